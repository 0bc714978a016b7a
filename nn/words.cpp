#include "words.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <unordered_set>

#include "random.hpp"
#include "text.hpp"

namespace nn {

namespace {

[[noreturn]] void fail(const std::string& path, std::size_t line, const std::string& what) {
  throw std::runtime_error(path + ": line " + std::to_string(line) + ": " + what);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

}  // namespace

WordList load_words(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw std::runtime_error("'" + path + "' is a folder, not a word list");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open the word list");
  WordList out;
  std::unordered_set<std::string> seen;
  LineReader lines(in, max_word_line);
  std::string_view line;
  for (LineReader::Result got; (got = lines.next(line)) != LineReader::Result::end;) {
    out.lines = lines.lines();
    if (got == LineReader::Result::too_long) {
      throw std::runtime_error(path + ": line " + std::to_string(out.lines) + " is longer than " +
                               std::to_string(max_word_line) + " bytes: not a word list (one word per line)");
    }
    if (line.find('\0') != std::string::npos) {
      fail(path, out.lines, "a NUL byte: not a text file of words");
    }
    std::size_t b = 0, e = line.size();
    while (b < e && is_space(line[b])) ++b;
    while (e > b && is_space(line[e - 1])) --e;
    if (b == e) continue;
    std::string word(line.substr(b, e - b));
    for (char c : word) {
      if (is_space(c)) fail(path, out.lines, quote(word) + " is more than one word (one word per line)");
    }
    bool letters = true;
    for (char& c : word) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      letters = letters && c >= 'a' && c <= 'z';
    }
    if (!letters) {
      ++out.skipped;
      continue;
    }
    if (word.size() > max_word_length) {
      fail(path, out.lines, "a word of " + std::to_string(word.size()) + " letters (at most " +
                                std::to_string(max_word_length) + ")");
    }
    if (!seen.insert(word).second) {
      ++out.duplicates;
      continue;
    }
    out.words.push_back(std::move(word));
  }
  if (in.bad()) throw std::runtime_error(path + ": read error after line " + std::to_string(out.lines));
  if (out.words.empty()) {
    throw std::runtime_error(path + ": no words of the letters a-z in " + std::to_string(out.lines) +
                             " lines");
  }
  return out;
}

int Vocabulary::id(char c) {
  if (c == boundary) return 0;
  if (c >= 'a' && c <= 'z') return c - 'a' + 1;
  throw std::invalid_argument(std::string("Vocabulary: '") + c + "' is not '.' or a letter a-z");
}

char Vocabulary::symbol(int id) {
  if (id == 0) return boundary;
  if (id >= 1 && id < size) return static_cast<char>('a' + id - 1);
  throw std::invalid_argument("Vocabulary: id " + std::to_string(id) + " is not in 0..26");
}

autograd::Labels Vocabulary::encode(const std::string& word) {
  autograd::Labels ids;
  ids.reserve(word.size() + 2);
  ids.push_back(0);
  for (char c : word) ids.push_back(id(c));
  ids.push_back(0);
  return ids;
}

std::string Vocabulary::decode(const autograd::Labels& ids) {
  std::string word;
  for (int i : ids) {
    const char c = symbol(i);
    if (c != boundary) word += c;
  }
  return word;
}

std::pair<std::vector<std::string>, std::vector<std::string>> split_words(
    const std::vector<std::string>& words, double held_out_fraction, std::uint64_t seed) {
  if (!(held_out_fraction > 0.0 && held_out_fraction < 1.0)) {
    throw std::invalid_argument("split_words: the held-out fraction must be in (0, 1), got " +
                                std::to_string(held_out_fraction));
  }
  const auto n_held = static_cast<std::size_t>(std::ceil(held_out_fraction * words.size()));
  if (n_held == 0 || n_held >= words.size()) {
    throw std::invalid_argument("split_words: " + std::to_string(words.size()) +
                                " words leave no training or no held-out words");
  }
  std::vector<std::string> shuffled = words;
  Rng(seed).shuffle(shuffled);
  std::vector<std::string> held(shuffled.begin(), shuffled.begin() + static_cast<long>(n_held));
  std::vector<std::string> train(shuffled.begin() + static_cast<long>(n_held), shuffled.end());
  return {std::move(train), std::move(held)};
}

}  // namespace nn
