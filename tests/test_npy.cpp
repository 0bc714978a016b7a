// NumPy .npy arrays of any rank and dtype: nn::load_npy_array and nn::save_npy. The files the
// tests read are written byte by byte from the format's specification (numpy's
// numpy/lib/format.py), independently of the code under test, or are numpy's own (tests/data).
#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <xtensor/xnpy.hpp>

#include "nn/npy.hpp"
#include "test_support.hpp"

using Catch::Matchers::Contains;
using test_support::read_file;
using test_support::TempDir;

namespace {

const std::string data_dir = AUTOGRAD_TEST_DATA;

// The little-endian bytes of each value, as a .npy file of dtype '<..' holds them, on a host of
// either byte order: the value's bits as an unsigned integer, then its bytes low first.
template <class V>
std::string le(std::initializer_list<V> values) {
  using Bits = std::conditional_t<
      sizeof(V) == 1, std::uint8_t,
      std::conditional_t<sizeof(V) == 2, std::uint16_t,
                         std::conditional_t<sizeof(V) == 4, std::uint32_t, std::uint64_t>>>;
  std::string out;
  for (V v : values) {
    Bits bits = 0;
    std::memcpy(&bits, &v, sizeof v);
    for (std::size_t i = 0; i < sizeof(V); ++i) out += static_cast<char>((bits >> (8 * i)) & 0xff);
  }
  return out;
}

// A .npy file of format 1.0 as numpy writes it: the magic "\x93NUMPY", version 1.0, the header's
// length (2 bytes, little-endian), the header dictionary padded with spaces and ended by '\n' so
// that the data starts at a multiple of 64 (numpy pads a full 64 when already aligned), the data.
std::string npy_raw(std::string header, const std::string& data) {
  const std::size_t pad = 64 - (10 + header.size() + 1) % 64;
  header += std::string(pad, ' ') + '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

// The same for the dictionary numpy writes for a plain dtype.
std::string npy_file(const std::string& descr, bool fortran, const std::string& shape,
                     const std::string& data) {
  return npy_raw("{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                     ", 'shape': " + shape + ", }",
                 data);
}

template <class T>
bool same(const xt::xarray<T>& a, const xt::xarray<T>& b) {
  return a.shape() == b.shape() && std::equal(a.begin(), a.end(), b.begin());
}

// Distinct values of T for a round trip, the type's extremes included where there is room.
template <class T>
xt::xarray<T> numbered(const std::vector<std::size_t>& shape) {
  xt::xarray<T> a = xt::xarray<T>::from_shape(shape);
  std::size_t i = 0;
  for (T& v : a) {
    if constexpr (std::is_floating_point_v<T>) {
      v = static_cast<T>(0.1) * static_cast<T>(i) - static_cast<T>(3.3);
    } else {
      v = static_cast<T>(static_cast<std::int64_t>(i) * 1000003 - 7);
    }
    ++i;
  }
  if (a.size() >= 3) {
    a.data()[1] = std::numeric_limits<T>::lowest();
    a.data()[2] = std::numeric_limits<T>::max();
  }
  return a;
}

}  // namespace

TEMPLATE_TEST_CASE("save_npy and load_npy_array round-trip every rank", "[npy][array]", double,
                   float, std::int64_t, std::int32_t) {
  const TempDir dir;
  const std::size_t rank = GENERATE(range(0, 7));
  const std::vector<std::size_t> dims{2, 3, 1, 4, 2, 2};
  const std::vector<std::size_t> shape(dims.begin(), dims.begin() + static_cast<long>(rank));
  const xt::xarray<TestType> a = numbered<TestType>(shape);
  const std::string path = dir.path("a.npy");
  nn::save_npy(path, a);
  std::string dtype;
  const xt::xarray<TestType> b = nn::load_npy_array<TestType>(path, &dtype);
  CHECK(b.dimension() == rank);
  CHECK(same(a, b));
  const char* expected = std::is_same_v<TestType, double>         ? "float64"
                         : std::is_same_v<TestType, float>        ? "float32"
                         : std::is_same_v<TestType, std::int64_t> ? "int64"
                                                                  : "int32";
  CHECK(dtype == expected);
  if (rank > 0) {  // and an empty array of that rank
    std::vector<std::size_t> empty = shape;
    empty.back() = 0;
    nn::save_npy(path, xt::xarray<TestType>::from_shape(empty));
    const xt::xarray<TestType> c = nn::load_npy_array<TestType>(path);
    CHECK(c.shape() == xt::xarray<TestType>::from_shape(empty).shape());
    CHECK(c.size() == 0);
  }
}

TEST_CASE("save_npy writes the bytes numpy writes", "[npy][array]") {
  const TempDir dir;
  const std::string path = dir.path("a.npy");
  SECTION("numpy's own files in tests/data come back byte for byte") {
    for (const char* name : {"moons200_X.npy", "moons200_y.npy"}) {
      const std::string original = data_dir + "/" + name;
      std::string dtype;
      if (std::string(name) == "moons200_X.npy") {
        nn::save_npy(path, nn::load_npy_array<double>(original, &dtype));
        CHECK(dtype == "float64");
      } else {
        nn::save_npy(path, nn::load_npy_array<std::int64_t>(original, &dtype));
        CHECK(dtype == "int64");
      }
      CHECK(read_file(path) == read_file(original));
    }
  }
  SECTION("as the format's specification lays them out") {
    nn::save_npy<double>(path, xt::xarray<double>{{1.5, -2.0, 3.0}, {4.0, 5.0, 6.25}});
    CHECK(read_file(path) == npy_file("<f8", false, "(2, 3)", le({1.5, -2.0, 3.0, 4.0, 5.0, 6.25})));
    nn::save_npy<float>(path, xt::xarray<float>(2.5f));
    CHECK(read_file(path) == npy_file("<f4", false, "()", le({2.5f})));
    nn::save_npy<std::int32_t>(path, xt::xarray<std::int32_t>{7, -8});
    CHECK(read_file(path) == npy_file("<i4", false, "(2,)", le<std::int32_t>({7, -8})));
  }
  SECTION("which are the bytes nn::save_model's xt::dump_npy makes") {
    const xt::xarray<std::int64_t> ids = numbered<std::int64_t>({2, 3, 4});
    nn::save_npy(path, ids);
    CHECK(read_file(path) == xt::dump_npy(ids));
    const autograd::Matrix m{{1.0, 2.0}, {3.0, 4.0}};
    nn::save_npy<double>(path, m);
    CHECK(read_file(path) == xt::dump_npy(m));
  }
}

TEST_CASE("load_npy_array reads every dtype numpy writes, exactly", "[npy][array]") {
  const TempDir dir;
  const std::string path = dir.path("a.npy");
  std::string dtype;
  SECTION("int8, with and without a byte order") {
    for (const char* descr : {"|i1", "<i1"}) {
      dir.write("a.npy", npy_file(descr, false, "(2, 2)", le<std::int8_t>({-128, -1, 0, 127})));
      CHECK(same(nn::load_npy_array<std::int32_t>(path, &dtype),
                 xt::xarray<std::int32_t>{{-128, -1}, {0, 127}}));
      CHECK(dtype == "int8");
      CHECK(same(nn::load_npy_array<float>(path), xt::xarray<float>{{-128, -1}, {0, 127}}));
    }
  }
  SECTION("int16") {
    dir.write("a.npy", npy_file("<i2", false, "(3,)", le<std::int16_t>({-32768, 5, 32767})));
    CHECK(same(nn::load_npy_array<std::int64_t>(path, &dtype),
               xt::xarray<std::int64_t>{-32768, 5, 32767}));
    CHECK(dtype == "int16");
  }
  SECTION("int32 and int64 at their extremes") {
    dir.write("a.npy", npy_file("<i4", false, "(2,)", le<std::int32_t>({-2147483647 - 1, 2147483647})));
    CHECK(same(nn::load_npy_array<std::int32_t>(path, &dtype),
               xt::xarray<std::int32_t>{-2147483647 - 1, 2147483647}));
    CHECK(dtype == "int32");
    CHECK(same(nn::load_npy_array<double>(path), xt::xarray<double>{-2147483648.0, 2147483647.0}));
    const std::int64_t lo = std::numeric_limits<std::int64_t>::min();
    const std::int64_t hi = std::numeric_limits<std::int64_t>::max();
    dir.write("a.npy", npy_file("<i8", false, "(2,)", le<std::int64_t>({lo, hi})));
    CHECK(same(nn::load_npy_array<std::int64_t>(path, &dtype), xt::xarray<std::int64_t>{lo, hi}));
    CHECK(dtype == "int64");
  }
  SECTION("unsigned, with and without a byte order for uint8") {
    for (const char* descr : {"|u1", "<u1"}) {
      dir.write("a.npy", npy_file(descr, false, "(3,)", le<std::uint8_t>({0, 128, 255})));
      CHECK(same(nn::load_npy_array<std::int32_t>(path, &dtype), xt::xarray<std::int32_t>{0, 128, 255}));
      CHECK(dtype == "uint8");
    }
    dir.write("a.npy", npy_file("<u2", false, "(1, 2)", le<std::uint16_t>({1, 65535})));
    CHECK(same(nn::load_npy_array<std::int32_t>(path, &dtype), xt::xarray<std::int32_t>{{1, 65535}}));
    CHECK(dtype == "uint16");
    dir.write("a.npy", npy_file("<u4", false, "(2,)", le<std::uint32_t>({0, 4294967295u})));
    CHECK(same(nn::load_npy_array<std::int64_t>(path, &dtype),
               xt::xarray<std::int64_t>{0, 4294967295ll}));
    CHECK(dtype == "uint32");
    dir.write("a.npy", npy_file("<u8", false, "(2,)",
                                le<std::uint64_t>({9007199254740992ull, 9223372036854775807ull})));
    CHECK(same(nn::load_npy_array<std::int64_t>(path, &dtype),
               xt::xarray<std::int64_t>{9007199254740992ll, 9223372036854775807ll}));
    CHECK(dtype == "uint64");
  }
  SECTION("bool, also 0-D") {
    dir.write("a.npy", npy_file("|b1", false, "(4,)", le<std::uint8_t>({1, 0, 0, 1})));
    CHECK(same(nn::load_npy_array<std::int32_t>(path, &dtype), xt::xarray<std::int32_t>{1, 0, 0, 1}));
    CHECK(dtype == "bool");
    dir.write("a.npy", npy_file("|b1", false, "()", le<std::uint8_t>({1})));
    const xt::xarray<double> scalar = nn::load_npy_array<double>(path);
    CHECK(scalar.dimension() == 0);
    CHECK(scalar() == 1.0);
  }
  SECTION("floats, and whole-number floats as integers") {
    dir.write("a.npy", npy_file("<f4", false, "(3,)", le<float>({0.1f, -2.0f, 16777216.0f})));
    CHECK(same(nn::load_npy_array<double>(path, &dtype),
               xt::xarray<double>{static_cast<double>(0.1f), -2.0, 16777216.0}));
    CHECK(dtype == "float32");
    dir.write("a.npy", npy_file("<f8", false, "(3,)", le<double>({-9.2233720368547758e18, -0.0, 42.0})));
    CHECK(same(nn::load_npy_array<std::int64_t>(path, &dtype),
               xt::xarray<std::int64_t>{std::numeric_limits<std::int64_t>::min(), 0, 42}));
    CHECK(dtype == "float64");
    // float64 to float32 rounds to the nearest float, as load_npy_matrix<float> does.
    CHECK(same(nn::load_npy_array<float>(path), xt::xarray<float>{-9.2233720368547758e18f, -0.0f, 42.0f}));
  }
  SECTION("the largest integers each float type holds exactly") {
    dir.write("a.npy", npy_file("<i8", false, "(2,)",
                                le<std::int64_t>({-9007199254740992ll, 9007199254740992ll})));
    CHECK(same(nn::load_npy_array<double>(path),
               xt::xarray<double>{-9007199254740992.0, 9007199254740992.0}));
    dir.write("a.npy", npy_file("<i4", false, "(2,)", le<std::int32_t>({-16777216, 16777216})));
    CHECK(same(nn::load_npy_array<float>(path), xt::xarray<float>{-16777216.0f, 16777216.0f}));
  }
  SECTION("ranks up to 12") {
    dir.write("a.npy", npy_file("|u1", false, "(1, 2, 1, 1, 2, 1, 1, 1)", le<std::uint8_t>({1, 2, 3, 4})));
    const xt::xarray<std::int64_t> a = nn::load_npy_array<std::int64_t>(path);
    CHECK(a.dimension() == 8);
    CHECK(a(0, 1, 0, 0, 1, 0, 0, 0) == 4);
    CHECK(a(0, 1, 0, 0, 0, 0, 0, 0) == 3);
    dir.write("a.npy", npy_file("<i2", false, "(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3)",
                                le<std::int16_t>({4, 5, 6})));
    const xt::xarray<std::int32_t> b = nn::load_npy_array<std::int32_t>(path);
    CHECK(b.dimension() == 12);
    CHECK(b.data()[2] == 6);
  }
}

TEST_CASE("load_npy_array reads Fortran-order files into row-major arrays", "[npy][array]") {
  const TempDir dir;
  const std::string path = dir.path("f.npy");
  // Fortran order: the first index varies fastest in the file.
  std::string data;
  for (std::int32_t k = 0; k < 4; ++k) {
    for (std::int32_t j = 0; j < 3; ++j) {
      for (std::int32_t i = 0; i < 2; ++i) data += le<std::int32_t>({100 * i + 10 * j + k});
    }
  }
  dir.write("f.npy", npy_file("<i4", true, "(2, 3, 4)", data));
  SECTION("same dtype") {
    const xt::xarray<std::int32_t> a = nn::load_npy_array<std::int32_t>(path);
    REQUIRE(a.shape() == xt::xarray<std::int32_t>::from_shape({2, 3, 4}).shape());
    for (std::size_t i = 0; i < 2; ++i) {
      for (std::size_t j = 0; j < 3; ++j) {
        for (std::size_t k = 0; k < 4; ++k) {
          CHECK(a(i, j, k) == static_cast<std::int32_t>(100 * i + 10 * j + k));
        }
      }
    }
    // Row-major in memory: the last index varies fastest.
    CHECK(a.data()[1] == 1);
    CHECK(a.data()[4] == 10);
  }
  SECTION("converted") {
    const xt::xarray<double> a = nn::load_npy_array<double>(path);
    CHECK(a(1, 2, 3) == 123.0);
    CHECK(a(1, 0, 2) == 102.0);
    CHECK(a.data()[12] == 100.0);
  }
  SECTION("a refused value is named by its index in the array, not its place in the file") {
    std::string floats;
    for (double v : {0.0, 1.0, 2.0, 3.5, 4.0, 5.0}) floats += le<double>({v});
    dir.write("f.npy", npy_file("<f8", true, "(2, 3)", floats));
    // File position 3 in Fortran order of a (2, 3) array is index (1, 1).
    CHECK_THROWS_WITH(nn::load_npy_array<std::int64_t>(path),
                      Contains(path + ": element (1, 1): 3.5 (float64)"));
  }
}

TEST_CASE("load_npy_array refuses conversions that lose information", "[npy][array]") {
  const TempDir dir;
  const std::string path = dir.path("a.npy");
  SECTION("integers outside an integer type's range") {
    dir.write("a.npy", npy_file("<i8", false, "(2, 2)", le<std::int64_t>({0, 1, 3000000000ll, 2})));
    CHECK_THROWS_WITH(nn::load_npy_array<std::int32_t>(path),
                      Contains(path + ": element (1, 0): 3000000000 (int64) is outside int32's "
                                      "range -2147483648..2147483647"));
    dir.write("a.npy", npy_file("<i8", false, "(2,)", le<std::int64_t>({0, -2147483649ll})));
    CHECK_THROWS_WITH(nn::load_npy_array<std::int32_t>(path),
                      Contains(path + ": element (1,): -2147483649 (int64) is outside int32's"));
    dir.write("a.npy", npy_file("<u8", false, "(1,)", le<std::uint64_t>({9223372036854775808ull})));
    CHECK_THROWS_WITH(nn::load_npy_array<std::int64_t>(path),
                      Contains(path + ": element (0,): 9223372036854775808 (uint64) is outside "
                                      "int64's range"));
    dir.write("a.npy", npy_file("<u4", false, "(1,)", le<std::uint32_t>({4294967295u})));
    CHECK_THROWS_WITH(nn::load_npy_array<std::int32_t>(path),
                      Contains(path + ": element (0,): 4294967295 (uint32) is outside int32's"));
  }
  SECTION("integers a float type does not hold exactly") {
    dir.write("a.npy", npy_file("<i8", false, "(2,)", le<std::int64_t>({1, 9007199254740993ll})));
    CHECK_THROWS_WITH(nn::load_npy_array<double>(path),
                      Contains(path + ": element (1,): 9007199254740993 (int64) is beyond 2^53 in "
                                      "magnitude") && Contains("float64"));
    dir.write("a.npy", npy_file("<i8", false, "(1,)", le<std::int64_t>({-9007199254740993ll})));
    CHECK_THROWS_WITH(nn::load_npy_array<double>(path),
                      Contains(path + ": element (0,): -9007199254740993 (int64) is beyond 2^53"));
    dir.write("a.npy", npy_file("<u8", false, "(1,)", le<std::uint64_t>({18446744073709551615ull})));
    CHECK_THROWS_WITH(nn::load_npy_array<double>(path),
                      Contains(path + ": element (0,): 18446744073709551615 (uint64) is beyond 2^53"));
    dir.write("a.npy", npy_file("<i4", false, "(1, 2)", le<std::int32_t>({16777216, -16777217})));
    CHECK_THROWS_WITH(nn::load_npy_array<float>(path),
                      Contains(path + ": element (0, 1): -16777217 (int32) is beyond 2^24 in "
                                      "magnitude") && Contains("float32"));
    dir.write("a.npy", npy_file("<u4", false, "(1,)", le<std::uint32_t>({16777217u})));
    CHECK_THROWS_WITH(nn::load_npy_array<float>(path),
                      Contains(path + ": element (0,): 16777217 (uint32) is beyond 2^24"));
  }
  SECTION("floats that are not whole numbers, as integers") {
    std::string values;
    for (int i = 0; i < 8; ++i) values += le<double>({i == 7 ? 2.5 : 1.0 * i});
    dir.write("a.npy", npy_file("<f8", false, "(1, 4, 2)", values));
    CHECK_THROWS_WITH(nn::load_npy_array<std::int64_t>(path),
                      Contains(path + ": element (0, 3, 1): 2.5 (float64) is not a whole number") &&
                          Contains("int64"));
    dir.write("a.npy", npy_file("<f4", false, "()", le<float>({-0.25f})));
    CHECK_THROWS_WITH(nn::load_npy_array<std::int32_t>(path),
                      Contains(path + ": element (): -0.25 (float32) is not a whole number"));
  }
  SECTION("NaN and infinities, as integers") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    dir.write("a.npy", npy_file("<f4", false, "(3,)", le<float>({1.0f, nan, 2.0f})));
    CHECK_THROWS_WITH(nn::load_npy_array<std::int32_t>(path),
                      Contains(path + ": element (1,): nan (float32)") && Contains("int32"));
    dir.write("a.npy", npy_file("<f4", false, "(3,)", le<float>({1.0f, 2.0f, -inf})));
    CHECK_THROWS_WITH(nn::load_npy_array<std::int64_t>(path),
                      Contains(path + ": element (2,): -inf (float32)") && Contains("int64"));
    dir.write("a.npy", npy_file("<f8", false, "(1,)", le<double>({static_cast<double>(inf)})));
    CHECK_THROWS_WITH(nn::load_npy_array<std::int64_t>(path),
                      Contains(path + ": element (0,): inf (float64)"));
  }
  SECTION("whole floats outside an integer type's range") {
    dir.write("a.npy", npy_file("<f8", false, "(2,)", le<double>({1.0, 9.2233720368547758e18})));
    CHECK_THROWS_WITH(nn::load_npy_array<std::int64_t>(path),
                      Contains(path + ": element (1,): 9223372036854775808 (float64) is outside "
                                      "int64's range"));
    dir.write("a.npy", npy_file("<f8", false, "(1,)", le<double>({-2147483649.0})));
    CHECK_THROWS_WITH(nn::load_npy_array<std::int32_t>(path),
                      Contains(path + ": element (0,): -2147483649 (float64) is outside int32's"));
  }
  SECTION("float64 values beyond float32's range") {
    dir.write("a.npy", npy_file("<f8", false, "(2,)", le<double>({1.0, -1e300})));
    CHECK_THROWS_WITH(nn::load_npy_array<float>(path),
                      Contains(path + ": element (1,): -1e+300 (float64) is beyond float32's range"));
  }
  SECTION("bool bytes other than 0 and 1") {
    dir.write("a.npy", npy_file("|b1", false, "(2,)", le<std::uint8_t>({1, 2})));
    CHECK_THROWS_WITH(nn::load_npy_array<std::int64_t>(path),
                      Contains(path + ": element (1,): byte 2 is not a bool (0 or 1)"));
  }
}

TEST_CASE("load_npy_array refuses bad files by name", "[npy][array]") {
  const TempDir dir;
  const std::string path = dir.path("a.npy");
  SECTION("big-endian dtypes") {
    for (const char* descr : {">f8", ">i4", ">u2"}) {
      dir.write("a.npy", npy_file(descr, false, "(1,)", std::string(8, '\0')));
      CHECK_THROWS_WITH(nn::load_npy_array<double>(path),
                        Contains(path + ": dtype '" + descr + "' is big-endian"));
    }
  }
  SECTION("dtypes that are not numbers or bools") {
    for (const char* descr : {"<c16", "<f2", "<U3", "|O", "|S4", "<M8[ns]", "<i3"}) {
      dir.write("a.npy", npy_file(descr, false, "(1,)", std::string(16, '\0')));
      CHECK_THROWS_WITH(nn::load_npy_array<double>(path),
                        Contains(path + ": dtype '" + descr + "' is not supported"));
    }
    dir.write("a.npy", npy_raw("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }",
                               std::string(8, '\0')));
    CHECK_THROWS_WITH(nn::load_npy_array<double>(path),
                      Contains(path + ": dtype '[('a', '<f8')]' is not supported"));
  }
  SECTION("shapes whose element count overflows") {
    dir.write("a.npy", npy_file("<f8", false, "(4294967296, 4294967296, 2)", le<double>({1.0})));
    CHECK_THROWS_WITH(nn::load_npy_array<double>(path),
                      Contains(path + ": shape (4294967296, 4294967296, 2) of '<f8' is too large"));
    dir.write("a.npy", npy_file("|u1", false, "(9223372036854775808, 2)", le<std::uint8_t>({1})));
    CHECK_THROWS_WITH(nn::load_npy_array<std::int32_t>(path),
                      Contains(path + ": shape (9223372036854775808, 2) of '|u1' is too large"));
    dir.write("a.npy", npy_file("<i8", false, "(2305843009213693952,)", le<std::int64_t>({1})));
    CHECK_THROWS_WITH(nn::load_npy_array<std::int64_t>(path),
                      Contains(path + ": shape (2305843009213693952,) of '<i8' is too large"));
    // Empty, but the other dimensions multiply past 2^64 (as numpy, which refuses it too: the
    // strides of such an array overflow).
    dir.write("a.npy", npy_file("<f8", false, "(10000000000, 1000000000000000, 0)", ""));
    CHECK_THROWS_WITH(nn::load_npy_array<double>(path),
                      Contains(path + ": shape (10000000000, 1000000000000000, 0) of '<f8' is too "
                                      "large"));
    dir.write("a.npy", npy_file("|b1", false, "(0, 4294967296, 4294967296)", ""));
    CHECK_THROWS_WITH(nn::load_npy_array<std::int32_t>(path),
                      Contains(path + ": shape (0, 4294967296, 4294967296) of '|b1' is too large"));
    // Empty shapes that do not overflow are arrays of no elements.
    dir.write("a.npy", npy_file("<f8", false, "(4294967296, 0, 3)", ""));
    CHECK(nn::load_npy_array<double>(path).size() == 0);
  }
  SECTION("truncated files") {
    dir.write("a.npy", npy_file("<i4", false, "(2, 3)", le<std::int32_t>({1, 2, 3, 4, 5})));
    CHECK_THROWS_WITH(nn::load_npy_array<std::int32_t>(path),
                      Contains(path + ": truncated: shape (2, 3) of '<i4' needs 24 data bytes, the "
                                      "file has 20"));
    const std::string whole = npy_file("|b1", false, "(2,)", le<std::uint8_t>({1, 0}));
    dir.write("a.npy", whole.substr(0, 40));
    CHECK_THROWS_WITH(nn::load_npy_array<std::int32_t>(path),
                      Contains(path + ": truncated .npy header"));
  }
  SECTION("missing files, folders and other files") {
    CHECK_THROWS_WITH(nn::load_npy_array<double>(dir.path("none.npy")),
                      Contains("cannot open '" + dir.path("none.npy") + "'"));
    CHECK_THROWS_WITH(nn::load_npy_array<double>(dir.path().string()), Contains("it is a folder"));
    dir.write("a.npy", "1,2,3\n");
    CHECK_THROWS_WITH(nn::load_npy_array<double>(path), Contains(path + ": not a .npy file"));
  }
}

TEST_CASE("save_npy keeps the old file when the write fails", "[npy][array]") {
  const TempDir dir;
  const std::string path = dir.path("a.npy");
  nn::save_npy<std::int32_t>(path, xt::xarray<std::int32_t>{1, 2, 3});
  const std::string old = read_file(path);
  SECTION("a write cut short by the file size limit") {
    const std::string error = test_support::error_under_file_size_limit(1000, [&] {
      nn::save_npy(path, xt::xarray<double>(xt::xarray<double>::from_shape({1000})));
    });
    CHECK_THAT(error, Contains("cannot write '" + path + "'"));
  }
  SECTION("a folder that does not exist") {
    CHECK_THROWS_WITH(nn::save_npy<double>(dir.path("missing/a.npy"), xt::xarray<double>{1.0}),
                      Contains("cannot write '" + dir.path("missing/a.npy") + "'"));
  }
  CHECK(read_file(path) == old);
  CHECK(dir.entries() == std::vector<std::string>{"a.npy"});
}
