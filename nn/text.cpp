#include "text.hpp"

#include <cstdio>

namespace nn {

std::string quote(std::string_view text, std::size_t limit) {
  std::string out = "'";
  for (std::size_t i = 0; i < text.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7f || c == '\\') {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() <= limit) return out + "'";
  return out + "...' (" + std::to_string(text.size()) + " bytes)";
}

LineReader::LineReader(std::istream& in, std::size_t max_bytes) : in_(in), buffer_(max_bytes + 1) {}

LineReader::Result LineReader::next(std::string_view& line) {
  // istream::getline stores at most size - 1 bytes: a '\n' right after max_bytes of them ends the
  // line; any other byte there sets failbit without being read.
  in_.getline(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
  const auto read = static_cast<std::size_t>(in_.gcount());
  if (in_.bad() || (read == 0 && in_.eof())) return Result::end;
  ++lines_;
  if (in_.fail()) return Result::too_long;
  line = std::string_view(buffer_.data(), in_.eof() ? read : read - 1);  // without the '\n'
  return Result::line;
}

}  // namespace nn
