// nn/words: loading a word list, its errors, the vocabulary and the split.
#include <catch2/catch.hpp>

#include <set>

#include "nn/words.hpp"
#include "test_support.hpp"

using Catch::Matchers::Contains;
using nn::Vocabulary;
using test_support::error_of;
using test_support::TempDir;

TEST_CASE("load_words lowercases, keeps a-z words once, skips the rest", "[words]") {
  TempDir dir;
  const std::string path =
      dir.write("list.txt", "Aaron\naaron\ncat's\n\n  dog \t\r\nCAT\nnaïve\nx-ray\nzebra\r\n");
  const nn::WordList list = nn::load_words(path);
  CHECK(list.words == std::vector<std::string>{"aaron", "dog", "cat", "zebra"});
  CHECK(list.lines == 9);
  CHECK(list.skipped == 3);  // cat's, naïve, x-ray
  CHECK(list.duplicates == 1);
}

TEST_CASE("the committed test word list loads whole", "[words]") {
  const nn::WordList list = nn::load_words(std::string(AUTOGRAD_TEST_DATA) + "/words2000.txt");
  CHECK(list.words.size() == 2000);
  CHECK(list.skipped == 0);
  CHECK(list.duplicates == 0);
}

TEST_CASE("load_words errors name the file and the line", "[words]") {
  TempDir dir;
  CHECK_THAT(error_of([&] { nn::load_words(dir.path("missing.txt")); }),
             Contains("missing.txt") && Contains("cannot open"));
  const std::string two = dir.write("two.txt", "apple\nbanana\nice cream\n");
  CHECK_THAT(error_of([&] { nn::load_words(two); }),
             Contains("two.txt: line 3") && Contains("'ice cream' is more than one word"));
  const std::string nul = dir.write("nul.bin", std::string("abc\nde\0f\n", 9));
  CHECK_THAT(error_of([&] { nn::load_words(nul); }), Contains("nul.bin: line 2: a NUL byte"));
  const std::string long_word = dir.write("long.txt", "ok\n" + std::string(65, 'a') + "\n");
  CHECK_THAT(error_of([&] { nn::load_words(long_word); }),
             Contains("long.txt: line 2: a word of 65 letters (at most 64)"));
  const std::string none = dir.write("none.txt", "don't\n123\n\n");
  CHECK_THAT(error_of([&] { nn::load_words(none); }),
             Contains("none.txt: no words of the letters a-z in 3 lines"));
}

TEST_CASE("Vocabulary: '.' is 0, a-z are 1-26, encode frames a word and decode undoes it", "[words]") {
  CHECK(Vocabulary::size == 27);
  CHECK(Vocabulary::id('.') == 0);
  CHECK(Vocabulary::id('a') == 1);
  CHECK(Vocabulary::id('z') == 26);
  for (int i = 0; i < Vocabulary::size; ++i) CHECK(Vocabulary::id(Vocabulary::symbol(i)) == i);
  CHECK(Vocabulary::encode("emma") == autograd::Labels{0, 5, 13, 13, 1, 0});
  for (const std::string w : {"a", "emma", "zyzzyva", "abcdefghijklmnopqrstuvwxyz"}) {
    CHECK(Vocabulary::decode(Vocabulary::encode(w)) == w);
  }
  CHECK_THAT(error_of([] { Vocabulary::id('A'); }), Contains("'A' is not '.' or a letter a-z"));
  CHECK_THAT(error_of([] { Vocabulary::symbol(27); }), Contains("id 27 is not in 0..26"));
  CHECK_THAT(error_of([] { Vocabulary::encode("it's"); }), Contains("'''"));
}

TEST_CASE("split_words is a seeded partition", "[words]") {
  std::vector<std::string> words;
  for (int i = 0; i < 100; ++i) words.push_back(std::string(1 + i % 7, static_cast<char>('a' + i % 26)) + std::to_string(i));
  const auto [train, held] = nn::split_words(words, 0.1, 5);
  CHECK(held.size() == 10);
  CHECK(train.size() == 90);
  std::set<std::string> all(train.begin(), train.end());
  all.insert(held.begin(), held.end());
  CHECK(all == std::set<std::string>(words.begin(), words.end()));
  CHECK(nn::split_words(words, 0.1, 5) == std::make_pair(train, held));
  CHECK(nn::split_words(words, 0.1, 6).second != held);
  CHECK_THAT(error_of([&] { nn::split_words(words, 1.0, 5); }), Contains("(0, 1)"));
  CHECK_THAT(error_of([&] { nn::split_words({"one"}, 0.5, 5); }), Contains("leave no training"));
}

TEST_CASE("load_words refuses a folder and lines past max_word_line by name", "[words]") {
  TempDir dir;
  SECTION("a folder") {
    CHECK_THAT(error_of([&] { nn::load_words(dir.path().string()); }),
               Contains("'" + dir.path().string() + "' is a folder, not a word list"));
  }
  SECTION("a line of max_word_line bytes is read; one byte more is refused, naming the line") {
    const std::string padded = std::string(nn::max_word_line - 3, ' ') + "cat";
    CHECK(nn::load_words(dir.write("edge.txt", "dog\n" + padded + "\n")).words ==
          std::vector<std::string>{"dog", "cat"});
    const std::string path = dir.write("over.txt", "dog\n " + padded + "\n");
    CHECK_THAT(error_of([&] { nn::load_words(path); }),
               Contains(path + ": line 2 is longer than " + std::to_string(nn::max_word_line) + " bytes"));
  }
  SECTION("an endless line") {
    CHECK_THAT(error_of([&] { nn::load_words("/dev/zero"); }),
               Contains("/dev/zero: line 1 is longer than " + std::to_string(nn::max_word_line) + " bytes"));
  }
}

TEST_CASE("load_words quotes a bad line escaped and in part", "[words]") {
  TempDir dir;
  const std::string path = dir.write("escape.txt", "apple\n\x1b]0;pwned\x07 now\n");
  const std::string message = error_of([&] { nn::load_words(path); });
  CHECK_THAT(message, Contains("line 2: '\\x1b]0;pwned\\x07 now' is more than one word"));
  CHECK(message.find('\x1b') == std::string::npos);
  CHECK(message.find('\x07') == std::string::npos);
  const std::string long_path = dir.write("long.txt", "a " + std::string(3000, 'b') + "\n");
  const std::string long_message = error_of([&] { nn::load_words(long_path); });
  CHECK_THAT(long_message, Contains("line 1: 'a bbb") && Contains("(3002 bytes) is more than one word"));
  CHECK(long_message.size() < 300);
}
