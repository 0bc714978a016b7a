// Data sets: generators, loaders, splitting, validation, and the portable random numbers behind
// them.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <xtensor/xnpy.hpp>
#include <xtensor/xtensor.hpp>

#include "nn/data.hpp"
#include "nn/random.hpp"
#include "test_support.hpp"

using test_support::error_of;
using test_support::TempDir;

using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {

const std::string data_dir = AUTOGRAD_TEST_DATA;


// Exact equality of shape and every element (the xtensor operator does not mix with Catch's
// expression capture).
bool same(const autograd::Matrix& a, const autograd::Matrix& b) {
  return a.shape() == b.shape() && std::equal(a.begin(), a.end(), b.begin());
}

std::size_t count_label(const autograd::Labels& y, int label) {
  return static_cast<std::size_t>(std::count(y.begin(), y.end(), label));
}

// A .npy file of format 1.0 with the given header dictionary, padded with spaces and a newline to
// header_len bytes, then the data bytes.
std::string npy_bytes(const std::string& dict, std::size_t header_len, const std::string& data) {
  std::string header = dict;
  header.resize(header_len - 1, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header_len & 0xff);
  out += static_cast<char>(header_len >> 8);
  return out + header + data;
}

std::string doubles(std::initializer_list<double> values) {
  std::string out;
  for (double v : values) out.append(reinterpret_cast<const char*>(&v), sizeof v);
  return out;
}


}  // namespace

// ---------------------------------------------------------------------------------------------
// Rng

TEST_CASE("Rng transforms only the raw mt19937_64 bits", "[random]") {
  SECTION("uniform is the top 53 bits scaled by 2^-53") {
    nn::Rng rng(7);
    std::mt19937_64 reference(7);
    for (int i = 0; i < 100; ++i) {
      const double expected = static_cast<double>(reference() >> 11) / 9007199254740992.0;
      REQUIRE(rng.uniform() == expected);
    }
  }
  SECTION("bits is the engine's sequence, whose 10000th value the standard fixes") {
    nn::Rng rng(5489u);  // mt19937_64's default seed
    std::uint64_t last = 0;
    for (int i = 0; i < 10000; ++i) {
      last = rng.bits();
    }
    REQUIRE(last == 9981545732273789042ull);
  }
}

TEST_CASE("Rng distributions have the right statistics", "[random]") {
  nn::Rng rng(2024);
  const int n = 200000;
  SECTION("uniform lies in [0, 1) with mean 1/2 and variance 1/12") {
    double sum = 0.0;
    double sum_sq = 0.0;
    for (int i = 0; i < n; ++i) {
      const double u = rng.uniform();
      REQUIRE(u >= 0.0);
      REQUIRE(u < 1.0);
      sum += u;
      sum_sq += u * u;
    }
    const double mean = sum / n;
    // Standard error of the mean is sqrt(1/12 / n) ~ 6.5e-4; 5e-3 is over 7 of them.
    CHECK_THAT(mean, WithinAbs(0.5, 5e-3));
    CHECK_THAT(sum_sq / n - mean * mean, WithinAbs(1.0 / 12.0, 5e-3));
  }
  SECTION("normal has mean 0 and variance 1") {
    double sum = 0.0;
    double sum_sq = 0.0;
    for (int i = 0; i < n; ++i) {
      const double z = rng.normal();
      sum += z;
      sum_sq += z * z;
    }
    // Standard errors: mean 1/sqrt(n) ~ 2.2e-3, variance sqrt(2/n) ~ 3.2e-3; 0.02 is over 6 of
    // them.
    CHECK_THAT(sum / n, WithinAbs(0.0, 0.02));
    CHECK_THAT(sum_sq / n, WithinAbs(1.0, 0.02));
  }
  SECTION("below(7) hits every value about equally often") {
    std::vector<int> counts(7, 0);
    for (int i = 0; i < n; ++i) {
      const std::uint64_t k = rng.below(7);
      REQUIRE(k < 7);
      ++counts[k];
    }
    // Each count is Binomial(n, 1/7): mean 28571, sd ~ 156; 1000 is over 6 sd.
    for (int c : counts) {
      CHECK_THAT(static_cast<double>(c), WithinAbs(n / 7.0, 1000.0));
    }
  }
  SECTION("below(0) is an error") {
    REQUIRE_THROWS_WITH(rng.below(0), Contains("n must be positive"));
  }
}

TEST_CASE("Rng shuffle and randn", "[random]") {
  SECTION("shuffle gives a permutation, the same one for the same seed") {
    nn::Rng a(3);
    nn::Rng b(3);
    const std::vector<std::size_t> pa = a.permutation(50);
    const std::vector<std::size_t> pb = b.permutation(50);
    REQUIRE(pa == pb);
    std::vector<std::size_t> sorted = pa;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t i = 0; i < sorted.size(); ++i) {
      REQUIRE(sorted[i] == i);
    }
    REQUIRE_FALSE(std::is_sorted(pa.begin(), pa.end()));
  }
  SECTION("randn has the asked shape and is filled row by row from normal()") {
    nn::Rng a(11);
    nn::Rng b(11);
    const autograd::Matrix m = a.randn(3, 4);
    REQUIRE(m.shape(0) == 3);
    REQUIRE(m.shape(1) == 4);
    for (std::size_t i = 0; i < 3; ++i) {
      for (std::size_t j = 0; j < 4; ++j) {
        REQUIRE(m(i, j) == b.normal());
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Generators

TEST_CASE("make_moons has the asked size and balanced classes", "[moons]") {
  SECTION("even n") {
    const nn::Dataset d = nn::make_moons(200, 0.2, 0);
    REQUIRE(d.X.shape(0) == 200);
    REQUIRE(d.X.shape(1) == 2);
    REQUIRE(d.y.size() == 200);
    REQUIRE(d.classes == 2);
    CHECK(count_label(d.y, 0) == 100);
    CHECK(count_label(d.y, 1) == 100);
  }
  SECTION("odd n puts the extra point on the inner moon, like sklearn") {
    const nn::Dataset d = nn::make_moons(201, 0.2, 0);
    REQUIRE(d.X.shape(0) == 201);
    CHECK(count_label(d.y, 0) == 100);
    CHECK(count_label(d.y, 1) == 101);
  }
  SECTION("bad arguments") {
    REQUIRE_THROWS_WITH(nn::make_moons(1, 0.1, 0), Contains("n >= 2") && Contains("got 1"));
    REQUIRE_THROWS_WITH(nn::make_moons(10, -0.1, 0), Contains("noise") && Contains("-0.1"));
    REQUIRE_THROWS_AS(nn::make_moons(10, std::numeric_limits<double>::quiet_NaN(), 0),
                      std::invalid_argument);
  }
}

TEST_CASE("make_moons without noise lies exactly on the two half circles", "[moons]") {
  // cos, sin, squaring and sqrt each round to within an ulp or two (~1e-16); 1e-12 leaves room for
  // that and still catches any wrong centre or radius by many orders of magnitude.
  const double tol = 1e-12;
  const nn::Dataset d = nn::make_moons(101, 0.0, 5);
  for (std::size_t i = 0; i < d.y.size(); ++i) {
    const double x = d.X(i, 0);
    const double y = d.X(i, 1);
    if (d.y[i] == 0) {
      CHECK_THAT(std::hypot(x, y), WithinAbs(1.0, tol));
      CHECK(y >= -tol);  // upper half
    } else {
      CHECK_THAT(std::hypot(x - 1.0, y - 0.5), WithinAbs(1.0, tol));
      CHECK(y <= 0.5 + tol);  // lower half
    }
  }
  SECTION("unshuffled, the angles run from 0 to pi in order, endpoints included") {
    const nn::Dataset u = nn::make_moons(10, 0.0, 5, false);
    CHECK_THAT(u.X(0, 0), WithinAbs(1.0, tol));
    CHECK_THAT(u.X(0, 1), WithinAbs(0.0, tol));
    CHECK_THAT(u.X(4, 0), WithinAbs(-1.0, tol));
    CHECK_THAT(u.X(5, 0), WithinAbs(0.0, tol));
    CHECK_THAT(u.X(5, 1), WithinAbs(0.5, tol));
    CHECK_THAT(u.X(9, 0), WithinAbs(2.0, tol));
    CHECK_THAT(u.X(9, 1), WithinAbs(0.5, tol));
    CHECK(u.y == autograd::Labels{0, 0, 0, 0, 0, 1, 1, 1, 1, 1});
  }
}

TEST_CASE("make_moons is reproducible from its seed", "[moons]") {
  const nn::Dataset a = nn::make_moons(200, 0.2, 42);
  SECTION("same seed, identical data") {
    const nn::Dataset b = nn::make_moons(200, 0.2, 42);
    CHECK(same(a.X, b.X));
    CHECK(a.y == b.y);
  }
  SECTION("other seed, other data") {
    const nn::Dataset c = nn::make_moons(200, 0.2, 43);
    CHECK_FALSE(same(a.X, c.X));
    CHECK(a.y != c.y);
  }
  SECTION("rows are shuffled, and the noise level does not change the order") {
    CHECK_FALSE(std::is_sorted(a.y.begin(), a.y.end()));
    CHECK(nn::make_moons(200, 0.0, 42).y == a.y);
  }
  SECTION("noise 0.2 moves points by about 0.2 per coordinate") {
    const nn::Dataset clean = nn::make_moons(2000, 0.0, 9);
    const nn::Dataset noisy = nn::make_moons(2000, 0.2, 9);
    double sum_sq = 0.0;
    for (std::size_t i = 0; i < 2000; ++i) {
      for (std::size_t j = 0; j < 2; ++j) {
        const double e = noisy.X(i, j) - clean.X(i, j);
        sum_sq += e * e;
      }
    }
    // 4000 draws: the sample sd is within about 2.2% of 0.2 (one standard error); 10% is 4.5 of
    // them.
    CHECK_THAT(std::sqrt(sum_sq / 4000.0), WithinRel(0.2, 0.1));
  }
}

TEST_CASE("make_spiral gives the cs231n spiral", "[spiral]") {
  const nn::Dataset d = nn::make_spiral(100, 3, 0.2, 0);
  SECTION("shape and classes") {
    REQUIRE(d.X.shape(0) == 300);
    REQUIRE(d.X.shape(1) == 2);
    REQUIRE(d.classes == 3);
    for (int k = 0; k < 3; ++k) {
      CHECK(count_label(d.y, k) == 100);
      CHECK(d.y[static_cast<std::size_t>(k) * 100] == k);  // grouped by class
    }
  }
  SECTION("radius runs evenly from 0 to 1 within each class, whatever the noise") {
    // Noise only changes the angle; r * (sin, cos) has length r up to a few ulps.
    for (std::size_t i = 0; i < 300; ++i) {
      const double r = static_cast<double>(i % 100) / 99.0;
      CHECK_THAT(std::hypot(d.X(i, 0), d.X(i, 1)), WithinAbs(r, 1e-12));
    }
  }
  SECTION("without noise the angle is linspace(4k, 4k + 4)") {
    const nn::Dataset c = nn::make_spiral(5, 2, 0.0, 0);
    // Last point of class 1: r = 1, t = 8.
    CHECK_THAT(c.X(9, 0), WithinAbs(std::sin(8.0), 1e-12));
    CHECK_THAT(c.X(9, 1), WithinAbs(std::cos(8.0), 1e-12));
  }
  SECTION("same seed, same data; other seed, other data") {
    CHECK(same(nn::make_spiral(100, 3, 0.2, 0).X, d.X));
    CHECK_FALSE(same(nn::make_spiral(100, 3, 0.2, 1).X, d.X));
  }
  SECTION("bad arguments") {
    REQUIRE_THROWS_WITH(nn::make_spiral(100, 1, 0.2, 0),
                        Contains("classes >= 2") && Contains("got 1"));
    REQUIRE_THROWS_WITH(nn::make_spiral(1, 3, 0.2, 0), Contains("n_per_class >= 2"));
    REQUIRE_THROWS_WITH(nn::make_spiral(10, 3, -1.0, 0), Contains("noise"));
  }
}

// ---------------------------------------------------------------------------------------------
// Loading

TEST_CASE("load_csv and load_npy read the blog's moons identically", "[csv][npy]") {
  const nn::Dataset csv = nn::load_csv(data_dir + "/moons200.csv");
  const nn::Dataset npy = nn::load_npy(data_dir + "/moons200_X.npy", data_dir + "/moons200_y.npy");
  REQUIRE(csv.X.shape(0) == 200);
  REQUIRE(csv.X.shape(1) == 2);
  REQUIRE(csv.classes == 2);
  REQUIRE(npy.classes == 2);
  // Both hold the same doubles (the CSV has 17 significant digits): bit-for-bit equality.
  CHECK(same(csv.X, npy.X));
  CHECK(csv.y == npy.y);
  CHECK(count_label(csv.y, 0) == 100);
  CHECK(count_label(csv.y, 1) == 100);
}

TEST_CASE("load_csv accepts headerless, blank-line and CRLF files", "[csv]") {
  TempDir dir;
  SECTION("no header") {
    const nn::Dataset d = nn::load_csv(dir.write("a.csv", "1.5,2,0\n-3,4e-1,2\n"));
    REQUIRE(d.X.shape(0) == 2);
    CHECK(d.X(1, 0) == -3.0);
    CHECK(d.X(1, 1) == 0.4);
    CHECK(d.y == autograd::Labels{0, 2});
    CHECK(d.classes == 3);
  }
  SECTION("header, CRLF line ends, spaces and blank lines") {
    const nn::Dataset d =
        nn::load_csv(dir.write("b.csv", "a, b ,label\r\n\r\n 1 , 2 , 1 \r\n3,4,0\r\n\n"));
    REQUIRE(d.X.shape(0) == 2);
    CHECK(d.X(0, 1) == 2.0);
    CHECK(d.y == autograd::Labels{1, 0});
  }
}

TEST_CASE("load_csv reads pandas' to_csv output: default column names and the index column", "[csv]") {
  TempDir dir;
  SECTION("header 0,1,2 (pandas' names for unnamed columns) is a header, not a data row") {
    const nn::Dataset d = nn::load_csv(dir.write("a.csv", "0,1,2\n0.5,1.5,1\n2.5,3.5,0\n"));
    REQUIRE(d.X.shape(0) == 2);
    CHECK(d.X(0, 0) == 0.5);
    CHECK(d.y == autograd::Labels{1, 0});
  }
  SECTION("a first line of other numbers stays a data row") {
    const nn::Dataset d = nn::load_csv(dir.write("b.csv", "0,2,1\n0.5,1.5,0\n"));
    REQUIRE(d.X.shape(0) == 2);
    CHECK(d.X(0, 1) == 2.0);
    CHECK(d.y == autograd::Labels{1, 0});
  }
  SECTION("to_csv() with its index: an empty first name, then the index in column 1") {
    const nn::Dataset d =
        nn::load_csv(dir.write("c.csv", ",x0,x1,label\n7,0.5,1.5,1\n3,2.5,3.5,0\n"));
    REQUIRE(d.X.shape(1) == 2);
    REQUIRE(d.X.shape(0) == 2);
    CHECK(d.X(0, 0) == 0.5);
    CHECK(d.X(1, 1) == 3.5);
    CHECK(d.y == autograd::Labels{1, 0});
  }
  SECTION("the index with default column names, and 'Unnamed: 0' from a second round trip") {
    for (const char* header : {",0,1,2", "Unnamed: 0,0,1,2", "Unnamed: 0,a,b,c"}) {
      const nn::Dataset d =
          nn::load_csv(dir.write("d.csv", std::string(header) + "\n0,0.5,1.5,1\n1,2.5,3.5,0\n"));
      INFO(header);
      REQUIRE(d.X.shape(1) == 2);
      CHECK(d.X(1, 0) == 2.5);
      CHECK(d.y == autograd::Labels{1, 0});
    }
  }
  SECTION("an index column that holds no whole number is refused, saying what was seen") {
    const std::string path = dir.write("e.csv", ",x0,x1,label\n0,0.5,1.5,1\nb,2.5,3.5,0\n");
    const std::string message = error_of([&] { nn::load_csv(path); });
    CHECK_THAT(message, Contains(path + ": line 3") && Contains("index column") &&
                            Contains("'b'"));
  }
  SECTION("an index column that leaves no feature is refused") {
    const std::string path = dir.write("f.csv", ",label\n0,1\n");
    CHECK_THAT(error_of([&] { nn::load_csv(path); }),
               Contains(path + ": line 1") && Contains("index column"));
  }
}

TEST_CASE("load_csv errors name the file, the line and the problem", "[csv]") {
  TempDir dir;
  SECTION("missing file") {
    const std::string path = dir.path("nope.csv");
    REQUIRE_THROWS_WITH(nn::load_csv(path), Contains("cannot open '" + path + "'"));
  }
  SECTION("a folder") {
    REQUIRE_THROWS_WITH(nn::load_csv(dir.path().string()),
                        Contains(dir.path().string()) && Contains("it is a folder"));
  }
  SECTION("ragged row") {
    const std::string path = dir.write("ragged.csv", "x0,x1,label\n1,2,0\n3,4,1\n5,1\n");
    REQUIRE_THROWS_WITH(nn::load_csv(path), Contains(path + ": line 4: expected 3 columns, got 2"));
  }
  SECTION("cell that is not a number") {
    const std::string path = dir.write("text.csv", "1,2,0\n1,abc,1\n");
    REQUIRE_THROWS_WITH(nn::load_csv(path),
                        Contains(path + ": line 2, column 2: 'abc' is not a number"));
  }
  SECTION("half-numeric cell") {
    const std::string path = dir.write("half.csv", "1,2,0\n1.5x,2,1\n");
    REQUIRE_THROWS_WITH(nn::load_csv(path), Contains("line 2, column 1: '1.5x' is not a number"));
  }
  SECTION("empty cell") {
    const std::string path = dir.write("hole.csv", "1,2,0\n1,,1\n");
    REQUIRE_THROWS_WITH(nn::load_csv(path), Contains("line 2, column 2: empty cell"));
  }
  SECTION("infinite feature") {
    const std::string path = dir.write("inf.csv", "1,inf,0\n");
    REQUIRE_THROWS_WITH(nn::load_csv(path),
                        Contains("line 1, column 2: 'inf' is not a finite number"));
  }
  SECTION("a first row mixing text and numbers is not taken for a header") {
    const std::string path = dir.write("typo.csv", "1,x,0\n1,2,1\n");
    REQUIRE_THROWS_WITH(nn::load_csv(path), Contains("line 1, column 2: 'x' is not a number"));
  }
  SECTION("fractional label") {
    const std::string path = dir.write("frac.csv", "x0,x1,label\n1,2,0\n\n3,4,2.5\n");
    REQUIRE_THROWS_WITH(nn::load_csv(path),
                        Contains(path + ": line 4: label '2.5' is not a non-negative integer"));
  }
  SECTION("negative label") {
    const std::string path = dir.write("neg.csv", "1,2,-1\n");
    REQUIRE_THROWS_WITH(nn::load_csv(path),
                        Contains("line 1: label '-1' is not a non-negative integer"));
  }
  SECTION("a label above the largest allowed") {
    const std::string path = dir.write("big.csv", "x0,x1,label\n1,2,0\n3,4,1000000\n");
    REQUIRE_THROWS_WITH(nn::load_csv(path),
                        Contains(path + ": line 3: label '1000000'") && Contains("100000 classes"));
  }
  SECTION("a long cell is quoted in part, control characters escaped") {
    const std::string cell = "\x01" + std::string(200, 'z');
    const std::string path = dir.write("long.csv", "1,2,0\n1," + cell + ",1\n");
    const std::string message = error_of([&] { nn::load_csv(path); });
    CHECK_THAT(message, Contains(path + ": line 2, column 2: '\\x01zzz"));
    CHECK(message.find(std::string(40, 'z')) == std::string::npos);
    CHECK(message.find('\x01') == std::string::npos);
    const std::string label_path = dir.write("longlabel.csv", "1,2,0\n1,2," + std::string(100, '7') + "\n");
    CHECK(error_of([&] { nn::load_csv(label_path); }).find(std::string(40, '7')) == std::string::npos);
  }
  SECTION("a line longer than max_csv_line, named by file and line, read no further") {
    const std::string long_line = "1" + std::string(nn::max_csv_line - 3, ' ') + ",0";  // cells are trimmed
    CHECK(nn::load_csv(dir.write("edge.csv", "1,0\n" + long_line + "\n")).y.size() == 2);
    const std::string path = dir.write("over.csv", "1,0\n " + long_line + "\n1,0\n");
    REQUIRE_THROWS_WITH(nn::load_csv(path), Contains(path + ": line 2 is longer than " +
                                                     std::to_string(nn::max_csv_line) + " bytes"));
    REQUIRE_THROWS_WITH(nn::load_csv("/dev/zero"),
                        Contains("/dev/zero: line 1 is longer than " + std::to_string(nn::max_csv_line)));
  }
  SECTION("single column") {
    const std::string path = dir.write("one.csv", "1\n2\n");
    REQUIRE_THROWS_WITH(nn::load_csv(path), Contains("line 1: expected at least 2 columns"));
  }
  SECTION("no data rows") {
    const std::string empty = dir.write("empty.csv", "");
    REQUIRE_THROWS_WITH(nn::load_csv(empty), Contains(empty + ": no data rows"));
    const std::string header_only = dir.write("header.csv", "x0,x1,label\n");
    REQUIRE_THROWS_WITH(nn::load_csv(header_only), Contains(header_only + ": no data rows"));
  }
}

TEST_CASE("load_npy accepts int32 labels and Fortran-ordered features", "[npy]") {
  TempDir dir;
  const xt::xtensor<double, 2> X = {{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}};
  xt::dump_npy(dir.path("X.npy"), X);
  SECTION("int32 labels") {
    xt::dump_npy(dir.path("y.npy"), xt::xtensor<std::int32_t, 1>{0, 1, 3});
    const nn::Dataset d = nn::load_npy(dir.path("X.npy"), dir.path("y.npy"));
    CHECK(same(d.X, X));
    CHECK(d.y == autograd::Labels{0, 1, 3});
    CHECK(d.classes == 4);
  }
  SECTION("column-major X") {
    xt::dump_npy(dir.path("y.npy"), xt::xtensor<std::int64_t, 1>{0, 1, 0});
    const xt::xtensor<double, 2, xt::layout_type::column_major> F = X;
    xt::dump_npy(dir.path("F.npy"), F);
    CHECK(same(nn::load_npy(dir.path("F.npy"), dir.path("y.npy")).X, X));
  }
}

TEST_CASE("load_npy errors name the file and the problem", "[npy]") {
  TempDir dir;
  const std::string X = dir.path("X.npy");
  const std::string y = dir.path("y.npy");
  xt::dump_npy(X, xt::xtensor<double, 2>{{1.0, 2.0}, {3.0, 4.0}});
  xt::dump_npy(y, xt::xtensor<std::int64_t, 1>{0, 1});
  REQUIRE_NOTHROW(nn::load_npy(X, y));

  SECTION("missing file") {
    REQUIRE_THROWS_WITH(nn::load_npy(dir.path("none.npy"), y),
                        Contains("cannot open '" + dir.path("none.npy") + "'"));
    REQUIRE_THROWS_WITH(nn::load_npy(X, dir.path("none.npy")),
                        Contains("cannot open '" + dir.path("none.npy") + "'"));
  }
  SECTION("float labels") {
    xt::dump_npy(y, xt::xtensor<double, 1>{0.0, 1.0});
    REQUIRE_THROWS_WITH(nn::load_npy(X, y),
                        Contains(y + ": expected 1-D integer labels") && Contains("dtype '<f8'"));
  }
  SECTION("2-D labels") {
    xt::dump_npy(y, xt::xtensor<std::int64_t, 2>{{0}, {1}});
    REQUIRE_THROWS_WITH(nn::load_npy(X, y),
                        Contains(y + ": expected 1-D integer labels") && Contains("shape (2, 1)"));
  }
  SECTION("float32 features") {
    xt::dump_npy(X, xt::xtensor<float, 2>{{1.0f, 2.0f}, {3.0f, 4.0f}});
    REQUIRE_THROWS_WITH(nn::load_npy(X, y),
                        Contains(X + ": expected 2-D float64 features") && Contains("'<f4'"));
  }
  SECTION("1-D features") {
    xt::dump_npy(X, xt::xtensor<double, 1>{1.0, 2.0});
    REQUIRE_THROWS_WITH(nn::load_npy(X, y),
                        Contains(X + ": expected 2-D float64 features") && Contains("shape (2,)"));
  }
  SECTION("row counts disagree") {
    xt::dump_npy(y, xt::xtensor<std::int64_t, 1>{0, 1, 1});
    REQUIRE_THROWS_WITH(nn::load_npy(X, y),
                        Contains("X and y disagree") && Contains("2 rows") && Contains("3 labels"));
  }
  SECTION("a label above the largest allowed names its row") {
    const std::string X2 = dir.path("X2.npy");
    const std::string y2 = dir.path("y2.npy");
    xt::dump_npy(X2, autograd::Matrix(xt::zeros<double>({2, 2})));
    xt::dump_npy(y2, xt::xtensor<std::int64_t, 1>{0, 100000});
    REQUIRE_THROWS_WITH(nn::load_npy(X2, y2), Contains(y2 + ": row 1: label 100000") &&
                                                  Contains("100000 classes"));
  }
  SECTION("negative label names its row") {
    xt::dump_npy(y, xt::xtensor<std::int64_t, 1>{0, -1});
    REQUIRE_THROWS_WITH(nn::load_npy(X, y), Contains(y + ": row 1: label -1 is negative"));
  }
  SECTION("truncated file") {
    const std::string bytes = xt::dump_npy(xt::xtensor<double, 2>{{1.0, 2.0}, {3.0, 4.0}});
    dir.write("X.npy", bytes.substr(0, bytes.size() - 8));
    REQUIRE_THROWS_WITH(nn::load_npy(X, y), Contains(X + ": truncated"));
  }
  SECTION("not an npy file") {
    dir.write("X.npy", "x0,x1\n1,2\n");
    REQUIRE_THROWS_WITH(nn::load_npy(X, y), Contains(X + ": not a .npy file"));
  }
}

// Sizes in a header are checked against the file before anything is allocated for them; the
// fuzz target fuzz_npy (tests/fuzz) runs these inputs with a malloc limit. Found by fuzzing: the
// 2.0 header length allocated up to 4 GiB, and shapes whose element count wraps around 2^64
// passed the file-size check and crashed while copying.
TEST_CASE("load_npy_matrix refuses sizes that the file cannot hold", "[npy]") {
  TempDir dir;
  SECTION("a 2.0 header length of nearly 4 GiB in a 20-byte file") {
    const std::string path =
        dir.write("long.npy", std::string("\x93NUMPY\x02\x00\x00\x00\x00\xf0{'descr'", 20));
    REQUIRE_THROWS_WITH(nn::load_npy_matrix(path), Contains(path + ": truncated .npy header"));
  }
  SECTION("a shape whose element count wraps around to 0") {
    const std::string path = dir.write(
        "wrap.npy", npy_bytes("{'descr': '<f8', 'fortran_order': False, "
                              "'shape': (4294967296, 4294967296), }", 118, ""));
    REQUIRE_THROWS_WITH(nn::load_npy_matrix(path),
                        Contains(path + ": shape (4294967296, 4294967296) of '<f8' is too large"));
  }
  SECTION("negative dimensions") {
    const std::string path = dir.write(
        "negative.npy",
        npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (-1, -1), }", 118,
                  doubles({1.0})));
    REQUIRE_THROWS_WITH(nn::load_npy_matrix(path), Contains(path + ": .npy header has a bad 'shape'"));
  }
  SECTION("a shape larger than the data") {
    const std::string path = dir.write(
        "big.npy", npy_bytes("{'descr': '<f8', 'fortran_order': False, "
                             "'shape': (100000, 100000), }", 118, doubles({1.0})));
    REQUIRE_THROWS_WITH(nn::load_npy_matrix(path),
                        Contains(path + ": truncated: shape (100000, 100000) of '<f8' needs "
                                        "80000000000 data bytes, the file has 8"));
  }
  SECTION("no fortran_order") {
    const std::string path = dir.write(
        "order.npy",
        npy_bytes("{'descr': '<f8', 'shape': (1, 1), }", 118, doubles({1.0})));
    REQUIRE_THROWS_WITH(nn::load_npy_matrix(path), Contains(path) && Contains("'fortran_order'"));
  }
}

// numpy pads the header so that the data starts at a multiple of 64: a header of 182 bytes is as
// valid as one of 118. xt::load_npy, used before, sign-extended the length's low byte (0xb6) and
// read 65462 header bytes instead.
TEST_CASE("load_npy_matrix reads headers whose length has a byte of 0x80 or more", "[npy]") {
  TempDir dir;
  const std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }";
  const std::string path = dir.write("long-header.npy",
                                     npy_bytes(dict, 182, doubles({1.0, 2.0, 3.0, 4.0})));
  CHECK(same(nn::load_npy_matrix(path), autograd::Matrix{{1.0, 2.0}, {3.0, 4.0}}));
  const std::string fortran = dir.write(
      "long-fortran.npy", npy_bytes("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                                    182, doubles({1.0, 4.0, 2.0, 5.0, 3.0, 6.0})));
  CHECK(same(nn::load_npy_matrix(fortran), autograd::Matrix{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}));
}

// ---------------------------------------------------------------------------------------------
// Splitting and checking

TEST_CASE("train_test_split", "[split]") {
  // Feature 0 is the row's index, so every row can be traced through the split.
  nn::Dataset d;
  d.X = autograd::Matrix::from_shape({200, 2});
  d.y.resize(200);
  d.classes = 3;
  for (std::size_t i = 0; i < 200; ++i) {
    d.X(i, 0) = static_cast<double>(i);
    d.X(i, 1) = -static_cast<double>(i);
    d.y[i] = static_cast<int>(i % 2);
  }
  const auto [train, test] = nn::train_test_split(d, 0.25, 1);

  SECTION("sizes, classes and intact rows") {
    REQUIRE(test.X.shape(0) == 50);
    REQUIRE(test.y.size() == 50);
    REQUIRE(train.X.shape(0) == 150);
    REQUIRE(train.y.size() == 150);
    CHECK(train.classes == 3);
    CHECK(test.classes == 3);
    for (const nn::Dataset* part : {&train, &test}) {
      for (std::size_t i = 0; i < part->y.size(); ++i) {
        const auto id = static_cast<std::size_t>(part->X(i, 0));
        CHECK(part->X(i, 1) == -part->X(i, 0));
        CHECK(part->y[i] == static_cast<int>(id % 2));
      }
    }
  }
  SECTION("disjoint, and together every row once") {
    std::set<double> seen;
    for (std::size_t i = 0; i < 150; ++i) seen.insert(train.X(i, 0));
    for (std::size_t i = 0; i < 50; ++i) {
      CHECK(seen.count(test.X(i, 0)) == 0);
      seen.insert(test.X(i, 0));
    }
    CHECK(seen.size() == 200);
  }
  SECTION("same seed, same split; other seed, other split") {
    const auto again = nn::train_test_split(d, 0.25, 1);
    CHECK(same(again.first.X, train.X));
    CHECK(same(again.second.X, test.X));
    CHECK_FALSE(same(nn::train_test_split(d, 0.25, 2).second.X, test.X));
  }
  SECTION("0.3 of 10 rows is 3, although 0.3 * 10 > 3 in doubles") {
    nn::Dataset small = nn::make_moons(10, 0.1, 0);
    CHECK(nn::train_test_split(small, 0.3, 0).second.y.size() == 3);
    CHECK(nn::train_test_split(small, 0.25, 0).second.y.size() == 3);  // 2.5 rounds up
  }
  SECTION("bad fractions name the value") {
    REQUIRE_THROWS_WITH(nn::train_test_split(d, 0.0, 1),
                        Contains("test_fraction") && Contains("got 0"));
    REQUIRE_THROWS_WITH(nn::train_test_split(d, 1.0, 1), Contains("got 1"));
    REQUIRE_THROWS_WITH(nn::train_test_split(d, -0.5, 1), Contains("got -0.5"));
    REQUIRE_THROWS_WITH(nn::train_test_split(d, 1.5, 1), Contains("got 1.5"));
    REQUIRE_THROWS_AS(nn::train_test_split(d, std::numeric_limits<double>::quiet_NaN(), 1),
                      std::invalid_argument);
    nn::Dataset two = nn::make_moons(2, 0.1, 0);
    REQUIRE_THROWS_WITH(nn::train_test_split(two, 0.9, 1), Contains("empty training part"));
  }
}

TEST_CASE("check_dataset", "[data]") {
  nn::Dataset d = nn::make_moons(6, 0.1, 0);
  REQUIRE_NOTHROW(nn::check_dataset(d, "moons"));
  SECTION("row count mismatch") {
    d.y.pop_back();
    REQUIRE_THROWS_WITH(nn::check_dataset(d, "moons"),
                        Contains("moons: X has 6 rows but y has 5 labels"));
  }
  SECTION("empty") {
    d.X = autograd::Matrix::from_shape({0, 2});
    d.y.clear();
    REQUIRE_THROWS_WITH(nn::check_dataset(d, "moons"), Contains("moons: empty data set"));
  }
  SECTION("label out of range names row and label") {
    d.y[3] = 2;
    REQUIRE_THROWS_WITH(nn::check_dataset(d, "moons"),
                        Contains("moons: row 3: label 2 is outside 0..1"));
    d.y[3] = -1;
    REQUIRE_THROWS_WITH(nn::check_dataset(d, "moons"), Contains("row 3: label -1"));
  }
  SECTION("non-finite feature") {
    d.X(4, 1) = std::numeric_limits<double>::quiet_NaN();
    REQUIRE_THROWS_WITH(nn::check_dataset(d, "moons"), Contains("row 4, column 1: feature is nan"));
  }
  SECTION("no classes") {
    d.classes = 0;
    REQUIRE_THROWS_WITH(nn::check_dataset(d, "moons"), Contains("classes must be at least 1"));
  }
  SECTION("errors are std::invalid_argument") {
    d.y.clear();
    REQUIRE_THROWS_AS(nn::check_dataset(d, "moons"), std::invalid_argument);
  }
}

TEST_CASE("train_test_rows gives the rows train_test_split uses", "[split]") {
  nn::Dataset d;
  d.X = autograd::Matrix::from_shape({10, 1});
  d.y.resize(10);
  for (std::size_t i = 0; i < 10; ++i) {
    d.X(i, 0) = static_cast<double>(i);  // each row names itself
    d.y[i] = static_cast<int>(i % 2);
  }
  d.classes = 2;
  const nn::SplitRows rows = nn::train_test_rows(10, 0.3, 7);
  const auto [train, test] = nn::train_test_split(d, 0.3, 7);
  REQUIRE(rows.test.size() == 3);
  REQUIRE(rows.train.size() == 7);
  for (std::size_t i = 0; i < rows.test.size(); ++i) CHECK(test.X(i, 0) == static_cast<double>(rows.test[i]));
  for (std::size_t i = 0; i < rows.train.size(); ++i) CHECK(train.X(i, 0) == static_cast<double>(rows.train[i]));
  std::set<std::size_t> all(rows.train.begin(), rows.train.end());
  all.insert(rows.test.begin(), rows.test.end());
  CHECK(all.size() == 10);  // every row in exactly one part
  CHECK(nn::train_test_rows(10, 0.3, 8).test != rows.test);  // the seed moves the split
  CHECK_THROWS_AS(nn::train_test_rows(10, 1.0, 7), std::invalid_argument);
  CHECK_THAT(error_of([&] { nn::take_rows(d, {0, 10}); }), Contains("row 10"));
}

TEST_CASE("Standardizer: scikit-learn's StandardScaler", "[scaling]") {
  autograd::Matrix X = {{1.0, 5.0, 2.0}, {3.0, 5.0, 4.0}, {5.0, 5.0, 9.0}};
  const nn::Standardizer s = nn::Standardizer::fit(X);
  // Column 0: mean 3, population deviation sqrt(8/3); column 1 constant: scale 1 (as sklearn);
  // column 2: mean 5, deviation sqrt((9 + 1 + 16) / 3). Computed by hand; 1e-15 allows for the
  // last bit of the divisions and square roots.
  CHECK_THAT(s.mean(0, 0), WithinAbs(3.0, 1e-15));
  CHECK_THAT(s.scale(0, 0), WithinAbs(std::sqrt(8.0 / 3.0), 1e-15));
  CHECK(s.scale(0, 1) == 1.0);
  CHECK_THAT(s.scale(0, 2), WithinAbs(std::sqrt(26.0 / 3.0), 1e-15));
  const autograd::Matrix Z = s.transform(X);
  for (std::size_t c = 0; c < 3; ++c) {
    double sum = 0.0;
    for (std::size_t r = 0; r < 3; ++r) sum += Z(r, c);
    CHECK_THAT(sum, WithinAbs(0.0, 1e-12));
  }
  CHECK_THAT(Z(2, 0), WithinAbs(2.0 / std::sqrt(8.0 / 3.0), 1e-15));
  CHECK(Z(0, 1) == 0.0);
  CHECK_THAT(error_of([&] { s.transform(autograd::Matrix::from_shape({2, 2})); }),
             Contains("2 columns") && Contains("3"));
  CHECK_THROWS_AS(nn::Standardizer::fit(autograd::Matrix::from_shape({0, 2})), std::invalid_argument);
}
