#pragma once
// Small PNG pictures in the style of the blog's matplotlib figures: class regions of a classifier
// (contourf with the Spectral colour map), scatter plots of the data, a grid of such pictures and a
// line plot for loss curves.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autograd/tensor.hpp"

namespace plot {

struct Color {
  std::uint8_t r = 0;
  std::uint8_t g = 0;
  std::uint8_t b = 0;
};

inline bool operator==(Color a, Color b) { return a.r == b.r && a.g == b.g && a.b == b.b; }
inline bool operator!=(Color a, Color b) { return !(a == b); }

inline constexpr Color white{255, 255, 255};
inline constexpr Color black{0, 0, 0};

// An RGB picture, 8 bits per channel, rows top to bottom. Drawing clips at the borders.
class Image {
 public:
  // Throws std::invalid_argument unless both sizes are positive.
  Image(int width, int height, Color background = white);

  int width() const { return width_; }
  int height() const { return height_; }
  // Throws std::out_of_range outside the picture.
  Color pixel(int x, int y) const;
  // Rows of width * 3 bytes, r g b.
  const std::uint8_t* data() const { return rgb_.data(); }

  void set_pixel(int x, int y, Color c);
  // Mixes c into the pixel with weight alpha in [0, 1] (anti-aliased edges).
  void blend_pixel(int x, int y, Color c, double alpha);
  void fill_rect(int x, int y, int w, int h, Color c);
  // Anti-aliased disc centred on (cx, cy) in pixel coordinates (pixel centres at +0.5).
  void fill_circle(double cx, double cy, double radius, Color c);
  // stb_easy_font text, top-left corner at (x, y), each font unit drawn as scale x scale pixels
  // (fractional scales are anti-aliased). Characters outside printable ASCII are drawn as '?'.
  // Throws std::invalid_argument unless scale > 0.
  void draw_text(int x, int y, const std::string& text, double scale, Color c);
  // The same text turned 90 degrees counter-clockwise (reads bottom to top), for y-axis labels;
  // (x, y) is the top-left corner of the turned text.
  void draw_text_vertical(int x, int y, const std::string& text, double scale, Color c);
  // Copies `other` with its top-left corner at (x, y).
  void blit(const Image& other, int x, int y);

 private:
  int width_;
  int height_;
  std::vector<std::uint8_t> rgb_;
};

// Size in pixels of draw_text's output.
int text_width(const std::string& text, double scale);
int text_height(const std::string& text, double scale);

// Colours of class k: saturated for points, pale for regions. Red, blue, yellow-green, then more
// Spectral colours; the palette repeats after 8 classes.
Color point_color(int k);
Color region_color(int k);

// Writes to a temporary file in the same folder, then renames it over `path`, so that `path` is
// never a half-written picture. Throws std::runtime_error naming the path on failure.
void write_png(const Image& image, const std::string& path);

using Predict = std::function<autograd::Labels(const autograd::Matrix&)>;

// Grid points per predict call in decision_boundary.
inline constexpr std::size_t boundary_tile = 4096;

// Class regions of `predict` over the data range widened by 0.5 on every side (predict is called
// on the centres of the plot pixels, row by row, boundary_tile points ([N x 2]) at a time), the
// points on top, the title above. X must be
// [rows x 2] with one label per row in 0..classes-1; throws std::invalid_argument otherwise, or if
// predict returns the wrong number of labels or a label outside 0..classes-1.
Image decision_boundary(const autograd::Matrix& X, const autograd::Labels& y, int classes,
                        const Predict& predict, const std::string& title, int size_px = 480);

// The points alone, same layout and checks as decision_boundary.
Image scatter(const autograd::Matrix& X, const autograd::Labels& y, int classes,
              const std::string& title, int size_px = 480);

// Tiles left to right, top to bottom, `columns` per row, on white; every cell is as large as the
// largest tile. Throws std::invalid_argument if tiles is empty or columns < 1.
Image grid(const std::vector<Image>& tiles, int columns);

// A polyline through (xs[i], ys[i]) with axes, ticks and labels. Throws std::invalid_argument if
// the sizes differ, are 0, or a value is not finite.
Image line_plot(const std::vector<double>& xs, const std::vector<double>& ys,
                const std::string& title, const std::string& xlabel, const std::string& ylabel,
                int w = 640, int h = 400);

// Several curves on shared axes (loss curves of several models), each in its own colour (the
// first in line_plot's blue) and listed by name in a legend at the top right; a series without a
// name is drawn but not listed. Throws std::invalid_argument, naming the series, for the problems
// line_plot refuses, or if there is no series.
struct Series {
  std::string name;
  std::vector<double> xs;
  std::vector<double> ys;
};
Image line_plot(const std::vector<Series>& series, const std::string& title,
                const std::string& xlabel, const std::string& ylabel, int w = 640, int h = 400);

}  // namespace plot
