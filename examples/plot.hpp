#pragma once
/// @file
/// PNG pictures in the style of the blog's matplotlib figures, drawn by PLplot's cairo driver:
/// class regions of a classifier (filled, as matplotlib's contourf), scatter plots of the data, a
/// grid of such pictures and line plots for loss curves. Pictures are drawn into an in-memory
/// Image and written as PNG files with stb_image_write.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autograd/tensor.hpp"

namespace plot {

/// An 8-bit RGB colour.
struct Color {
  std::uint8_t r = 0;  ///< red
  std::uint8_t g = 0;  ///< green
  std::uint8_t b = 0;  ///< blue
};

/// Colours are equal when all three channels are.
inline bool operator==(Color a, Color b) { return a.r == b.r && a.g == b.g && a.b == b.b; }
/// Colours differ when any channel does.
inline bool operator!=(Color a, Color b) { return !(a == b); }

/// The background of every figure.
inline constexpr Color white{255, 255, 255};
/// Text, axes and the points' edges.
inline constexpr Color black{0, 0, 0};

/// An RGB picture, 8 bits per channel, rows top to bottom.
class Image {
 public:
  /// A picture filled with `background`. Throws std::invalid_argument unless both sizes are
  /// positive.
  Image(int width, int height, Color background = white);

  /// Width in pixels.
  int width() const { return width_; }
  /// Height in pixels.
  int height() const { return height_; }
  /// The pixel at column x, row y. Throws std::out_of_range outside the picture.
  Color pixel(int x, int y) const;
  /// Rows of width * 3 bytes, r g b, top row first.
  const std::uint8_t* data() const { return rgb_.data(); }
  /// The same bytes, writable (the drawing library paints into them).
  std::uint8_t* data() { return rgb_.data(); }

  /// Sets one pixel; positions outside the picture are ignored.
  void set_pixel(int x, int y, Color c);
  /// Copies `other` with its top-left corner at (x, y), clipped at the borders.
  void blit(const Image& other, int x, int y);

 private:
  int width_;
  int height_;
  std::vector<std::uint8_t> rgb_;
};

/// Saturated colour of class k, for points: Spectral's red and blue first (as in the blog's
/// two-class figures), then yellow-green and more Spectral colours; repeats after 8 classes.
Color point_color(int k);
/// Pale colour of class k, for its region in decision_boundary.
Color region_color(int k);

/// Writes `image` as a PNG file with autograd::write_file (autograd/durable.hpp): `path` is never
/// a half-written picture. Throws std::runtime_error naming the path (and the missing folder, if
/// that is the problem) on failure; no file is left behind.
void write_png(const Image& image, const std::string& path);

/// A classifier for decision_boundary: one label per row of an [N x 2] matrix of points.
using Predict = std::function<autograd::Labels(const autograd::Matrix&)>;

/// Grid points per predict call in decision_boundary.
inline constexpr std::size_t boundary_tile = 4096;

/// Class regions of `predict` over the data range widened by 0.5 on every side (as the blog's
/// plot_decision_boundary), the points on top with dark edges, axes with ticks, and the title
/// above (wrapped or shrunk to fit). predict is called on a grid with about one point per plot
/// pixel, the first and last grid lines on the widened range's edges, boundary_tile points
/// ([N x 2]) at a time. X must be [rows x 2] with one label per row in 0..classes-1, size_px at
/// least 160; throws std::invalid_argument otherwise, or if predict returns the wrong number of
/// labels or a label outside 0..classes-1.
Image decision_boundary(const autograd::Matrix& X, const autograd::Labels& y, int classes,
                        const Predict& predict, const std::string& title, int size_px = 480);

/// The points alone on white with grid lines, same layout and checks as decision_boundary.
Image scatter(const autograd::Matrix& X, const autograd::Labels& y, int classes,
              const std::string& title, int size_px = 480);

/// Tiles left to right, top to bottom, `columns` per row, 8 pixels apart on white; every cell is
/// as large as the largest tile. Throws std::invalid_argument if tiles is empty or columns < 1.
Image grid(const std::vector<Image>& tiles, int columns);

/// A curve through (xs[i], ys[i]) with axes, ticks, grid lines and labels, w x h pixels (at
/// least 200 x 150). Throws std::invalid_argument if the sizes differ, are 0, or a value is not
/// finite.
Image line_plot(const std::vector<double>& xs, const std::vector<double>& ys,
                const std::string& title, const std::string& xlabel, const std::string& ylabel,
                int w = 640, int h = 400);

/// One named curve of a multi-series line_plot.
struct Series {
  std::string name;        ///< shown in the legend; a series without a name is not listed
  std::vector<double> xs;  ///< x values
  std::vector<double> ys;  ///< y values, one per x value
};

/// Several curves on shared axes (loss curves of several models), each in its own colour
/// (matplotlib's tab10, the first being the single-curve line_plot's blue) and listed by name in
/// a legend at the top right (the y range grows upwards to make room for it). Throws std::invalid_argument, naming the series, for the problems
/// the single-curve line_plot refuses, or if there is no series.
Image line_plot(const std::vector<Series>& series, const std::string& title,
                const std::string& xlabel, const std::string& ylabel, int w = 640, int h = 400);

}  // namespace plot
