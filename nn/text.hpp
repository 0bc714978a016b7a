#pragma once
/// \file
/// Text from users' files and command lines, which can be of any length and hold any bytes:
/// read a line at a time with a bound on its length, and shown in error messages by a short,
/// escaped quote.
#include <cstddef>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

namespace nn {

/// The most bytes of a text that quote() shows by default.
inline constexpr std::size_t quote_limit = 32;

/// A text as an error message shows it: in single quotes, its first `limit` bytes with every byte
/// other than printable ASCII (control characters such as a terminal's escape sequences, a
/// backslash, bytes of UTF-8) written as \\xNN; a longer text's quote ends in "..." and is followed
/// by its length. quote("abc") is 'abc'; quote of 50 a's is 'aaa…a...' (50 bytes), 32 a's shown.
std::string quote(std::string_view text, std::size_t limit = quote_limit);

/// Reads a stream a line at a time, refusing a line longer than a bound before reading past it, so
/// that a file without line breaks (such as /dev/zero) costs at most the bound.
class LineReader {
 public:
  /// What next() found.
  enum class Result {
    line,      ///< A line (the last one may lack its '\n').
    end,       ///< The end of the stream, or a read error (the stream's bad() tells which).
    too_long,  ///< A line longer than max_bytes: its first max_bytes bytes were read, no more.
  };
  /// Lines of in of at most max_bytes bytes, not counting the '\n'. The buffer for one line is
  /// allocated once, here.
  LineReader(std::istream& in, std::size_t max_bytes);
  /// The next line, without its '\n', in line: valid until the next call.
  Result next(std::string_view& line);
  /// The lines read so far, counting a line found too long: the 1-based number of the last one.
  std::size_t lines() const { return lines_; }

 private:
  std::istream& in_;
  std::vector<char> buffer_;
  std::size_t lines_ = 0;
};

}  // namespace nn
