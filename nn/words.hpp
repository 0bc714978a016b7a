#pragma once
/// \file
/// Word lists for character-level language models: one word per line, as /usr/share/dict/words.
/// The vocabulary is '.' (the start and end of a word) plus the letters a–z: 27 symbols.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "autograd/tensor.hpp"

namespace nn {

/// The words of a word list file, with counts of what was read and dropped.
struct WordList {
  std::vector<std::string> words;  ///< Lowercase a–z only, each once, in file order.
  std::size_t lines = 0;           ///< Lines read.
  std::size_t skipped = 0;         ///< Non-blank lines with a character other than a letter.
  std::size_t duplicates = 0;      ///< Words seen before (after lowercasing).
};

/// The longest word load_words() accepts, in letters.
inline constexpr std::size_t max_word_length = 64;
/// The longest line load_words() reads, in bytes (without its '\n'): room for a word of
/// max_word_length letters in any padding, while a file without line breaks is refused at once.
inline constexpr std::size_t max_word_line = 4096;
/// Reads a word list: one word per line, surrounding spaces, tabs and a CR ignored, blank lines
/// skipped.
///
/// Each word is lowercased (ASCII); one with any other character than a–z afterwards
/// (an apostrophe as in "cat's", a digit, a hyphen, an accented letter) is skipped and counted,
/// as is a repeat ("Bill" after "bill"). Throws std::runtime_error naming the file, and the 1-based
/// line where it applies, if the file is a folder or cannot be read, a line is longer than
/// max_word_line bytes (read no further) or holds two words or a NUL byte (not a word list), a
/// word is longer than max_word_length letters, or no word is left. A line is quoted by nn::quote.
WordList load_words(const std::string& path);

/// The 27 symbols: id 0 is '.', ids 1..26 are 'a'..'z'.
struct Vocabulary {
  static constexpr int size = 27;  ///< The number of symbols.
  static constexpr char boundary = '.';  ///< The symbol that starts and ends every word (id 0).
  /// The id of symbol c; throws std::invalid_argument for anything but '.' and a–z.
  static int id(char c);
  /// The symbol of an id; throws std::invalid_argument for an id outside 0..26.
  static char symbol(int id);
  /// '.' + word + '.' as ids: the inputs and targets of a word, framed by the boundary symbol.
  static autograd::Labels encode(const std::string& word);
  /// The symbols of ids with the boundary symbols dropped: decode(encode(w)) == w.
  static std::string decode(const autograd::Labels& ids);
};

/// Splits words into a training and a held-out part.
///
/// Seeded shuffle, then the first ceil(held_out_fraction · n) words are held out. Returns
/// {training, held_out}, each in shuffled order. Throws std::invalid_argument if the fraction is
/// not in (0, 1) or leaves either part empty.
std::pair<std::vector<std::string>, std::vector<std::string>> split_words(
    const std::vector<std::string>& words, double held_out_fraction, std::uint64_t seed);

}  // namespace nn
