// nn/text: how user text is shown in errors (nn::quote) and read a bounded line at a time
// (nn::LineReader), and the readers that echo what they read.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "nn/data.hpp"
#include "nn/layers.hpp"
#include "nn/serialize.hpp"
#include "nn/text.hpp"
#include "test_support.hpp"

using Catch::Matchers::Contains;
using Catch::Matchers::EndsWith;
using test_support::error_of;
using test_support::TempDir;

TEST_CASE("quote shows a short prefix of any bytes, escaped", "[text]") {
  SECTION("printable ASCII is kept as it is") {
    CHECK(nn::quote("abc") == "'abc'");
    CHECK(nn::quote("") == "''");
    CHECK(nn::quote("it's 1,5") == "'it's 1,5'");
  }
  SECTION("control characters, escape sequences and non-ASCII bytes as \\xNN") {
    CHECK(nn::quote("a\x1b[31mb\n") == "'a\\x1b[31mb\\x0a'");
    CHECK(nn::quote(std::string("x\0y", 3)) == "'x\\x00y'");
    CHECK(nn::quote("na\xc3\xafve\x7f") == "'na\\xc3\\xafve\\x7f'");
    CHECK(nn::quote("back\\slash") == "'back\\x5cslash'");  // so that every \ in a quote is an escape
  }
  SECTION("at most quote_limit bytes of the text, then its length") {
    const std::string limit(nn::quote_limit, 'z');
    CHECK(nn::quote(limit) == "'" + limit + "'");
    CHECK(nn::quote(limit + "z") == "'" + limit + "...' (" + std::to_string(nn::quote_limit + 1) + " bytes)");
    CHECK(nn::quote("abcdef", 3) == "'abc...' (6 bytes)");
  }
  SECTION("50 MB of escape bytes give a message of a bounded size") {
    const std::string huge(50'000'000, '\x1b');
    const std::string q = nn::quote(huge);
    CHECK(q.size() <= 4 * nn::quote_limit + 32);  // \xNN per byte, quotes, "... (N bytes)"
    CHECK_THAT(q, EndsWith("...' (50000000 bytes)"));
  }
}

TEST_CASE("LineReader reads lines of at most its bound, without reading on", "[text]") {
  SECTION("lines, a last line without its newline, blank lines and NUL bytes") {
    std::istringstream in(std::string("ab\n\nc\0d\nlast", 12));
    nn::LineReader lines(in, 8);
    std::string_view line;
    REQUIRE(lines.next(line) == nn::LineReader::Result::line);
    CHECK(line == "ab");
    REQUIRE(lines.next(line) == nn::LineReader::Result::line);
    CHECK(line.empty());
    REQUIRE(lines.next(line) == nn::LineReader::Result::line);
    CHECK(line == std::string_view("c\0d", 3));
    REQUIRE(lines.next(line) == nn::LineReader::Result::line);
    CHECK(line == "last");
    CHECK(lines.next(line) == nn::LineReader::Result::end);
    CHECK(lines.lines() == 4);
  }
  SECTION("a line of exactly the bound is a line; one byte more is too long") {
    std::istringstream in("12345678\n123456789\n");
    nn::LineReader lines(in, 8);
    std::string_view line;
    REQUIRE(lines.next(line) == nn::LineReader::Result::line);
    CHECK(line == "12345678");
    CHECK(lines.next(line) == nn::LineReader::Result::too_long);
    CHECK(lines.lines() == 2);
  }
  SECTION("an endless line stops at the bound") {
    std::ifstream in("/dev/zero", std::ios::binary);
    REQUIRE(in);
    nn::LineReader lines(in, 4096);
    std::string_view line;
    CHECK(lines.next(line) == nn::LineReader::Result::too_long);
    CHECK(in.tellg() <= 4097);  // read no further than the bound and the byte past it
  }
}

TEST_CASE("the model reader quotes what it cannot use", "[text][serialize]") {
  TempDir tmp;
  std::filesystem::create_directories(tmp.path() / "m");
  const std::string dir = tmp.path("m");
  const auto manifest = [&](const std::string& activation) {
    std::ofstream(tmp.path() / "m" / "model.txt", std::ios::binary)
        << "autograd-mlp 1\nactivation " << activation << "\nsizes 2 3 2\n";
  };
  SECTION("a 50 MB activation name gives a short message") {
    manifest(std::string(50'000'000, 'x'));
    const std::string message = error_of([&] { nn::load_model(dir); });
    CHECK_THAT(message, Contains("model.txt: line 2") && Contains("'xxxx") && Contains("(50000000 bytes)"));
    CHECK(message.size() < 300);
  }
  SECTION("escape bytes in the name are escaped") {
    manifest("\x1b[2Jrelu");
    const std::string message = error_of([&] { nn::load_model(dir); });
    CHECK_THAT(message, Contains("unknown activation '\\x1b[2Jrelu'"));
    CHECK(message.find('\x1b') == std::string::npos);
  }
  SECTION("parse_activation quotes its argument") {
    CHECK_THAT(error_of([] { nn::parse_activation("gelu\r\n" + std::string(100, 'g')); }),
               Contains("unknown activation 'gelu\\x0d\\x0a") && Contains("(106 bytes)"));
  }
}

TEST_CASE("the .npy reader quotes a broken header escaped", "[text][data]") {
  TempDir tmp;
  std::string header = "{'descr': '\x1b[5m" + std::string(1000, 'q') +
                       "', 'fortran_order': False, 'shape': (2, 2), }";
  header += std::string(63 - (10 + header.size()) % 64, ' ') + "\n";
  std::string file = std::string("\x93NUMPY\x01\x00", 8);
  file += static_cast<char>(header.size() & 0xff);
  file += static_cast<char>(header.size() >> 8);
  file += header + std::string(32, '\0');
  const std::string path = tmp.write("bad.npy", file);
  const std::string message = error_of([&] { nn::load_npy_matrix(path); });
  CHECK_THAT(message, Contains(path) && Contains("\\x1b[5mqqq"));
  CHECK(message.find('\x1b') == std::string::npos);
  CHECK(message.size() < 500);
}
