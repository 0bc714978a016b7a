// Pictures: the Image canvas, PNG files read back with stb_image, and the figures.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <stb_image.h>
#include <catch2/catch.hpp>

#include "nn/data.hpp"
#include "plot.hpp"
#include "test_support.hpp"

using Catch::Matchers::Contains;

namespace {

namespace fs = std::filesystem;

using test_support::TempDir;

// A PNG decoded by stb_image into an Image, so the writer is checked by an independent reader.
plot::Image read_png(const std::string& path) {
  int w = 0;
  int h = 0;
  int channels = 0;
  const std::unique_ptr<unsigned char, void (*)(void*)> pixels(
      stbi_load(path.c_str(), &w, &h, &channels, 3), stbi_image_free);
  if (!pixels) {
    throw std::runtime_error("stbi_load failed on " + path);
  }
  plot::Image img(w, h);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const unsigned char* p = pixels.get() + (static_cast<std::size_t>(y) * w + x) * 3;
      img.set_pixel(x, y, plot::Color{p[0], p[1], p[2]});
    }
  }
  return img;
}

std::size_t count_color(const plot::Image& img, plot::Color c) {
  std::size_t n = 0;
  for (int y = 0; y < img.height(); ++y) {
    for (int x = 0; x < img.width(); ++x) {
      n += img.pixel(x, y) == c;
    }
  }
  return n;
}

// The moons are split by this line about as well as by the blog's logistic regression.
autograd::Labels left_or_right(const autograd::Matrix& points) {
  autograd::Labels z(points.shape(0));
  for (std::size_t i = 0; i < z.size(); ++i) {
    z[i] = points(i, 0) - 0.5 * points(i, 1) > 0.5 ? 1 : 0;
  }
  return z;
}

}  // namespace

TEST_CASE("Image pixels and blit", "[image]") {
  const plot::Color red{200, 0, 0};
  plot::Image img(20, 10, plot::Color{1, 2, 3});
  REQUIRE(img.width() == 20);
  REQUIRE(img.height() == 10);
  CHECK(img.pixel(19, 9) == plot::Color{1, 2, 3});

  SECTION("set_pixel ignores positions outside") {
    img.set_pixel(3, 4, red);
    img.set_pixel(-1, 4, red);
    img.set_pixel(20, 4, red);
    CHECK(img.pixel(3, 4) == red);
    CHECK(count_color(img, red) == 1);
  }
  SECTION("blit copies the other picture at an offset, clipped") {
    plot::Image tile(4, 4, red);
    img.blit(tile, -2, 8);
    CHECK(count_color(img, red) == 2 * 2);
    CHECK(img.pixel(0, 9) == red);
    CHECK(img.pixel(2, 9) == plot::Color{1, 2, 3});
  }
  SECTION("bad sizes and positions") {
    REQUIRE_THROWS_WITH(plot::Image(0, 5), Contains("0 x 5"));
    REQUIRE_THROWS_AS(img.pixel(20, 0), std::out_of_range);
  }
}

TEST_CASE("write_png writes a PNG that stb_image reads back unchanged", "[png]") {
  TempDir dir;
  plot::Image img(7, 5);
  img.set_pixel(0, 0, plot::Color{10, 20, 30});
  img.set_pixel(6, 4, plot::Color{250, 128, 0});
  const std::string path = dir.path("tiny.png");
  plot::write_png(img, path);
  const plot::Image back = read_png(path);
  REQUIRE(back.width() == 7);
  REQUIRE(back.height() == 5);
  CHECK(back.pixel(0, 0) == plot::Color{10, 20, 30});
  CHECK(back.pixel(6, 4) == plot::Color{250, 128, 0});
  CHECK(back.pixel(3, 2) == plot::white);
  // Only the picture is left in the folder: the temporary file was renamed, not copied.
  CHECK(dir.entries() == std::vector<std::string>{"tiny.png"});

  SECTION("overwriting an existing picture") {
    plot::write_png(plot::Image(3, 3, plot::black), path);
    CHECK(read_png(path).width() == 3);
    CHECK(dir.entries() == std::vector<std::string>{"tiny.png"});
  }
}

TEST_CASE("write_png failures name the path and leave no file behind", "[png]") {
  TempDir dir;
  const plot::Image img(4, 4);
  SECTION("folder does not exist") {
    const std::string path = dir.path("missing/out.png");
    REQUIRE_THROWS_WITH(plot::write_png(img, path),
                        Contains("'" + path + "'") && Contains("does not exist"));
    CHECK_FALSE(fs::exists(dir.path("missing")));
    CHECK(dir.entries().empty());
  }
  SECTION("target is a folder: the rename fails and the temporary file is removed") {
    fs::create_directory(dir.path("taken.png"));
    REQUIRE_THROWS_WITH(plot::write_png(img, dir.path("taken.png")),
                        Contains("'" + dir.path("taken.png") + "'"));
    CHECK(dir.entries() == std::vector<std::string>{"taken.png"});
    CHECK(fs::is_directory(dir.path("taken.png")));
  }
}

TEST_CASE("decision_boundary shows both class regions and the points", "[plot][image]") {
  const nn::Dataset moons = nn::make_moons(200, 0.2, 0);
  std::size_t calls = 0;
  std::size_t max_rows = 0;
  std::size_t total_rows = 0;
  double min_x = 1e300;
  double max_x = -1e300;
  const plot::Predict predict = [&](const autograd::Matrix& points) {
    ++calls;
    max_rows = std::max(max_rows, points.shape(0));
    total_rows += points.shape(0);
    REQUIRE(points.shape(1) == 2);
    for (std::size_t i = 0; i < points.shape(0); ++i) {
      min_x = std::min(min_x, points(i, 0));
      max_x = std::max(max_x, points(i, 0));
    }
    return left_or_right(points);
  };
  const plot::Image img =
      plot::decision_boundary(moons.X, moons.y, 2, predict, "Logistic Regression", 400);

  TempDir dir;
  plot::write_png(img, dir.path("boundary.png"));
  const plot::Image back = read_png(dir.path("boundary.png"));
  REQUIRE(back.width() == 400);
  REQUIRE(back.height() == 400);

  SECTION("predict called in tiles of at most 4096 points over a fine grid spanning the data range widened by 0.5") {
    CHECK(calls * 4096 >= total_rows);
    CHECK(max_rows <= 4096);
    CHECK(total_rows > 300 * 300);
    double x_lo = 1e300;
    double x_hi = -1e300;
    for (std::size_t i = 0; i < 200; ++i) {
      x_lo = std::min(x_lo, moons.X(i, 0));
      x_hi = std::max(x_hi, moons.X(i, 0));
    }
    // The first and last grid columns lie on the widened range's edges (up to rounding).
    CHECK(min_x == Approx(x_lo - 0.5).margin(1e-12));
    CHECK(max_x == Approx(x_hi + 0.5).margin(1e-12));
  }
  SECTION("both region colours cover a good part of the picture") {
    const std::size_t red = count_color(back, plot::region_color(0));
    const std::size_t blue = count_color(back, plot::region_color(1));
    CHECK(red > 400 * 400 / 10);
    CHECK(blue > 400 * 400 / 10);
  }
  SECTION("each region lies where the model puts its class") {
    // left_or_right gives class 0 (red) left of the line x - y/2 = 0.5 and class 1 (blue) right
    // of it, so the left third of the picture is mostly red and the right third mostly blue.
    std::size_t red_left = 0, blue_left = 0, red_right = 0, blue_right = 0;
    for (int y = 0; y < 400; ++y) {
      for (int x = 0; x < 400; ++x) {
        const plot::Color c = back.pixel(x, y);
        const bool left = x < 400 / 3;
        const bool right = x >= 2 * 400 / 3;
        red_left += left && c == plot::region_color(0);
        blue_left += left && c == plot::region_color(1);
        red_right += right && c == plot::region_color(0);
        blue_right += right && c == plot::region_color(1);
      }
    }
    CHECK(red_left > 10 * blue_left);
    CHECK(blue_right > 10 * red_right);
  }
  SECTION("points are drawn in the darker class colours") {
    for (int k = 0; k < 2; ++k) {
      CHECK(plot::point_color(k) != plot::region_color(k));
      // 100 points of radius ~3.6 px cover a few thousand pixels, far fewer than a region.
      const std::size_t n = count_color(back, plot::point_color(k));
      CHECK(n > 200);
      CHECK(n < 400 * 400 / 20);
    }
  }
  SECTION("bad input") {
    REQUIRE_THROWS_WITH(plot::decision_boundary(moons.X, moons.y, 1, predict, "t"),
                        Contains("label 1 is outside 0..0"));
    const plot::Predict short_answer = [](const autograd::Matrix&) { return autograd::Labels{0}; };
    REQUIRE_THROWS_WITH(plot::decision_boundary(moons.X, moons.y, 2, short_answer, "t"),
                        Contains("predict returned 1 labels for"));
    const plot::Predict bad_label = [](const autograd::Matrix& p) {
      return autograd::Labels(p.shape(0), 2);
    };
    REQUIRE_THROWS_WITH(plot::decision_boundary(moons.X, moons.y, 2, bad_label, "t"),
                        Contains("predict returned label 2"));
    const autograd::Matrix three_columns = autograd::Matrix::from_shape({200, 3});
    REQUIRE_THROWS_WITH(plot::decision_boundary(three_columns, moons.y, 2, predict, "t"),
                        Contains("[200 x 3]"));
  }
}

TEST_CASE("scatter draws the points of three classes on white", "[plot][image]") {
  const nn::Dataset spiral = nn::make_spiral(100, 3, 0.2, 0);
  const plot::Image img = plot::scatter(spiral.X, spiral.y, 3, "Spiral");
  REQUIRE(img.width() == 480);
  REQUIRE(img.height() == 480);
  for (int k = 0; k < 3; ++k) {
    CHECK(count_color(img, plot::point_color(k)) > 300);
    CHECK(count_color(img, plot::region_color(k)) == 0);
  }
  CHECK(count_color(img, plot::white) > 480 * 480 / 2);
}

TEST_CASE("long titles are wrapped or shrunk to stay inside the picture", "[plot][image]") {
  const nn::Dataset moons = nn::make_moons(50, 0.2, 0);
  const std::string title(
      "Decision Boundary for hidden layer size 3 (train 97.0%, held-out 96.5%) with a long tail "
      "of words that no single line of this picture can hold");
  for (const int size : {240, 480}) {
    const plot::Image img = plot::scatter(moons.X, moons.y, 2, title, size);
    // The title sits in the white band above the plot; its outer columns must stay white.
    for (int y = 0; y < 40; ++y) {
      for (int x : {0, 1, 2, size - 3, size - 2, size - 1}) {
        REQUIRE(img.pixel(x, y) == plot::white);
      }
    }
    std::size_t ink = 0;
    for (int y = 0; y < 40; ++y) {
      for (int x = 0; x < size; ++x) ink += img.pixel(x, y) != plot::white;
    }
    CHECK(ink > 200);
  }
}

TEST_CASE("grid lays tiles out in rows on white", "[plot][image]") {
  std::vector<plot::Image> tiles;
  for (int k = 0; k < 7; ++k) {
    tiles.emplace_back(30, 20, plot::point_color(k));
  }
  const plot::Image g = plot::grid(tiles, 2);
  // 2 columns x 4 rows of 30 x 20 cells, with 8-pixel gaps around and between them.
  REQUIRE(g.width() == 2 * 30 + 3 * 8);
  REQUIRE(g.height() == 4 * 20 + 5 * 8);
  CHECK(g.pixel(8, 8) == plot::point_color(0));
  CHECK(g.pixel(8 + 30 + 8, 8) == plot::point_color(1));
  CHECK(g.pixel(8, 8 + 3 * 28) == plot::point_color(6));
  CHECK(g.pixel(8 + 30 + 8, 8 + 3 * 28) == plot::white);  // the empty eighth cell
  CHECK(g.pixel(0, 0) == plot::white);
  REQUIRE_THROWS_WITH(plot::grid(tiles, 0), Contains("columns must be at least 1, got 0"));
  REQUIRE_THROWS_WITH(plot::grid({}, 2), Contains("no tiles"));
}

TEST_CASE("line_plot draws a curve with axes", "[plot][image]") {
  std::vector<double> xs;
  std::vector<double> ys;
  for (int i = 0; i <= 200; ++i) {
    xs.push_back(i * 100.0);
    ys.push_back(0.7 * std::exp(-i / 40.0) + 0.07);
  }
  const plot::Image img = plot::line_plot(xs, ys, "Loss", "pass", "loss");
  REQUIRE(img.width() == 640);
  REQUIRE(img.height() == 400);
  const plot::Color line{31, 119, 180};
  CHECK(count_color(img, line) > 400);
  REQUIRE_THROWS_WITH(plot::line_plot(xs, {1.0}, "t", "x", "y"),
                      Contains("201 x values but 1 y values"));
  REQUIRE_THROWS_WITH(plot::line_plot({}, {}, "t", "x", "y"), Contains("no points"));
  ys[5] = std::nan("");
  REQUIRE_THROWS_WITH(plot::line_plot(xs, ys, "t", "x", "y"), Contains("point 5 is not finite"));
}

TEST_CASE("line_plot with several series draws each in its colour, with a legend", "[plot][image]") {
  std::vector<plot::Series> series(3);
  const char* names[] = {"bigram", "mlp", ""};
  for (int k = 0; k < 3; ++k) {
    series[k].name = names[k];
    for (int i = 0; i <= 100; ++i) {
      series[k].xs.push_back(i * 10.0);
      series[k].ys.push_back(2.5 - 0.2 * k * (1.0 - std::exp(-i / 20.0)));
    }
  }
  const plot::Image img = plot::line_plot(series, "Loss", "step", "nats");
  CHECK(count_color(img, plot::Color{31, 119, 180}) > 300);
  CHECK(count_color(img, plot::Color{255, 127, 14}) > 300);
  CHECK(count_color(img, plot::Color{44, 160, 44}) > 300);
  REQUIRE_THROWS_WITH(plot::line_plot(std::vector<plot::Series>{}, "t", "x", "y"),
                      Contains("no series"));
  series[1].ys.pop_back();
  REQUIRE_THROWS_WITH(plot::line_plot(series, "t", "x", "y"),
                      Contains("series 1 (mlp): 101 x values but 100 y values"));
}
