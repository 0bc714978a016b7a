#include "plot.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <plplot.h>
#include <stb_image_write.h>

#include "autograd/durable.hpp"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PLOT_UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(PLOT_UNDER_ASAN)
// LeakSanitizer's built-in suppressions in every program that draws: leaks of the drawing
// libraries, not ours (Debian 12: PLplot 5.15 does not close the driver libltdl opens at each
// plinit; fontconfig's patterns made for pango's font lookups and its parsed configuration are
// never freed). These libraries are built without frame pointers, so LeakSanitizer's stacks end
// at the library that allocated: the patterns name those two libraries, which this project never
// calls itself. .ci/valgrind.supp lists the same leaks for valgrind, by function.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libfontconfig.so\n"
         "leak:libltdl.so\n";
}
// No table of used suppressions at exit: it would be mixed into the programs' output.
extern "C" const char* __lsan_default_options() { return "print_suppressions=0"; }
#endif

namespace plot {

namespace {

using autograd::Labels;
using autograd::Matrix;

Color mix(Color a, Color b, double t) {
  const auto channel = [t](std::uint8_t u, std::uint8_t v) {
    return static_cast<std::uint8_t>(std::lround(u + (v - u) * t));
  };
  return {channel(a.r, b.r), channel(a.g, b.g), channel(a.b, b.b)};
}

// matplotlib's tab10 colours, the first being line_plot's single-curve blue.
Color series_color(std::size_t k) {
  static constexpr Color colors[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},
                                     {214, 39, 40},  {148, 103, 189}, {140, 86, 75},
                                     {227, 119, 194}, {127, 127, 127}, {188, 189, 34},
                                     {23, 190, 207}};
  return colors[k % (sizeof colors / sizeof colors[0])];
}

// ---- PLplot --------------------------------------------------------------------------------

// Colour map 0 of every figure: background, text and axes, grid lines, then the figure's own.
constexpr PLINT background_ink = 0;
constexpr PLINT text_ink = 1;
constexpr PLINT grid_ink = 2;
constexpr PLINT first_own_ink = 3;
constexpr Color grid_color{225, 225, 225};

// PLplot's plinit asks on the terminal for a device it does not know, so check first that the
// cairo driver's memory device is installed.
void require_memcairo() {
  static const bool found = [] {
    // plgDevs fills caller-given arrays and ends them with a null entry.
    std::vector<const char*> menus(128), names(128);
    const char** menu_list = menus.data();
    const char** name_list = names.data();
    int n = static_cast<int>(names.size()) - 1;
    plgDevs(&menu_list, &name_list, &n);
    for (int i = 0; i < n; ++i) {
      if (names[static_cast<std::size_t>(i)] != nullptr &&
          std::strcmp(names[static_cast<std::size_t>(i)], "memcairo") == 0) {
        return true;
      }
    }
    return false;
  }();
  if (!found) {
    throw std::runtime_error(
        "plot: PLplot has no 'memcairo' device; install Debian's plplot-driver-cairo");
  }
}

// Text size relative to a 480-pixel picture's: it follows the smaller side within limits, so that
// text stays readable in small tiles and does not dominate large pictures.
double text_size(int w, int h) { return std::clamp(1.05 * std::min(w, h) / 480.0, 0.9, 1.5); }

// One PLplot session painting into `img` through the cairo driver's memory device (anti-aliased
// shapes, text in the system's sans-serif font). PLplot keeps global state: one figure at a time,
// and plend() at the end frees all of it.
class Figure {
 public:
  Figure(Image& img, const std::vector<Color>& own_colors) {
    require_memcairo();
    std::vector<Color> inks{white, black, grid_color};
    inks.insert(inks.end(), own_colors.begin(), own_colors.end());
    std::vector<PLINT> r, g, b;
    for (const Color c : inks) {
      r.push_back(c.r);
      g.push_back(c.g);
      b.push_back(c.b);
    }
    plsdev("memcairo");
    plsmem(img.width(), img.height(), img.data());
    plscmap0(r.data(), g.data(), b.data(), static_cast<PLINT>(inks.size()));
    plinit();
    pladv(0);
    // PLplot's default text height grows with the page; fix it instead: 3.4 mm (capitals about
    // 9 pixels high) times text_size.
    size_ = text_size(img.width(), img.height());
    PLFLT default_mm = 0.0;
    PLFLT height_mm = 0.0;
    plgchr(&default_mm, &height_mm);
    text_scale_ = 3.4 * size_ / default_mm;
    plschr(0.0, text_scale_);
  }
  ~Figure() { plend(); }
  Figure(const Figure&) = delete;
  Figure& operator=(const Figure&) = delete;

  /// plschr's scale for body text.
  double text_scale() const { return text_scale_; }
  /// Text size relative to a 480-pixel picture's (1 there); pixel sizes of text scale with it.
  double size() const { return size_; }

 private:
  double text_scale_ = 1.0;
  double size_ = 1.0;
};

// Width of an average character at text_size 1, in pixels, with a margin: a 72-character title
// measured about 5.9 pixels a character on the memcairo device.
constexpr double char_width_px = 6.6;
// PLplot's character height (the unit of plmtex's distances) at text_size 1: 3.4 mm at the cairo
// driver's 72 dots per inch.
constexpr double char_height_px = 3.4 / 25.4 * 72.0;

// A title wrapped into lines at a scale relative to body text.
struct Title {
  std::vector<std::string> lines;
  double scale = 1.15;

  // Height in pixels of the band above the plot box that holds it.
  double band_px(double size) const {
    return (1.2 + 1.4 * static_cast<double>(lines.size())) * char_height_px * size * scale + 4.0;
  }
};

// Words wrapped onto lines of at most `width_px`: one line if it fits at 0.9 of the body text or
// more, else two lines shrunk down to 0.7 of it, else as many lines as it takes at 0.7.
Title fit_title(const std::string& text, int width_px, double size) {
  std::vector<std::string> words;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t j = std::min(text.find(' ', i), text.size());
    if (j > i) words.push_back(text.substr(i, j - i));
    i = j + 1;
  }
  Title t;
  if (words.empty()) return t;
  const auto wrap = [&](double scale) {
    const auto fits = static_cast<std::size_t>(width_px / (char_width_px * size * scale));
    t.scale = scale;
    t.lines.assign(1, "");
    for (const std::string& w : words) {
      std::string& line = t.lines.back();
      if (line.empty() || line.size() + 1 + w.size() <= fits) {
        line += (line.empty() ? "" : " ") + w;
      } else {
        t.lines.push_back(w);
      }
    }
  };
  for (const auto& [max_lines, min_scale] : {std::pair<std::size_t, double>{1, 0.9}, {2, 0.7}}) {
    for (double scale = 1.15; scale >= min_scale; scale *= 0.95) {
      wrap(scale);
      if (t.lines.size() <= max_lines) return t;
    }
  }
  wrap(0.7);  // a single word longer than the line still gets a line of its own
  return t;
}

// Draws the title above the current viewport, centred on the picture.
void draw_title(const Title& title, const Figure& figure) {
  // plmtex places text relative to the viewport: widen it to the whole picture for the title, so
  // that the title is centred on the picture rather than on the plot box.
  PLFLT vx0, vx1, vy0, vy1, wx0, wx1, wy0, wy1;
  plgvpd(&vx0, &vx1, &vy0, &vy1);
  plgvpw(&wx0, &wx1, &wy0, &wy1);
  plvpor(0.0, 1.0, vy0, vy1);
  plschr(0.0, title.scale * figure.text_scale());
  plcol0(text_ink);
  const std::size_t n = title.lines.size();
  for (std::size_t i = 0; i < n; ++i) {
    plmtex("t", 0.6 + 1.4 * static_cast<double>(n - i), 0.5, 0.5, title.lines[i].c_str());
  }
  plvpor(vx0, vx1, vy0, vy1);
  plwind(wx0, wx1, wy0, wy1);
  plschr(0.0, figure.text_scale());
}

// ---- scatter and regions -------------------------------------------------------------------

void check_points(const char* who, const Matrix& X, const Labels& y, int classes, int size_px) {
  const std::string me = who;
  if (X.shape(1) != 2) {
    throw std::invalid_argument(me + ": X must be [rows x 2], got " + autograd::shape_str(X));
  }
  if (X.shape(0) != y.size()) {
    throw std::invalid_argument(me + ": X has " + std::to_string(X.shape(0)) + " rows but y has " +
                                std::to_string(y.size()) + " labels");
  }
  if (y.empty()) {
    throw std::invalid_argument(me + ": no points to draw");
  }
  if (classes < 1) {
    throw std::invalid_argument(me + ": classes must be at least 1, got " +
                                std::to_string(classes));
  }
  if (size_px < 160) {
    throw std::invalid_argument(me + ": size_px must be at least 160, got " +
                                std::to_string(size_px));
  }
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (y[i] < 0 || y[i] >= classes) {
      throw std::invalid_argument(me + ": row " + std::to_string(i) + ": label " +
                                  std::to_string(y[i]) + " is outside 0.." +
                                  std::to_string(classes - 1));
    }
    if (!std::isfinite(X(i, 0)) || !std::isfinite(X(i, 1))) {
      throw std::invalid_argument(me + ": row " + std::to_string(i) + ": point is not finite");
    }
  }
}

// Where the plot box sits, in fractions of the picture (PLplot's normalised device coordinates).
struct Box {
  double left, right, bottom, top;
};

// Labels of `predict` on an nx x ny grid spanning [x0, x1] x [y0, y1] with both ends included,
// indexed [i * ny + j] for x step i and y step j, asked boundary_tile points at a time.
std::vector<double> classify_grid(const Predict& predict, int classes, double x0, double x1,
                                  double y0, double y1, int nx, int ny) {
  const std::size_t n = static_cast<std::size_t>(nx) * static_cast<std::size_t>(ny);
  std::vector<double> z(n);
  for (std::size_t first = 0; first < n; first += boundary_tile) {
    const std::size_t rows = std::min(boundary_tile, n - first);
    Matrix tile = Matrix::from_shape({rows, 2});
    for (std::size_t r = 0; r < rows; ++r) {
      const std::size_t i = (first + r) / static_cast<std::size_t>(ny);
      const std::size_t j = (first + r) % static_cast<std::size_t>(ny);
      tile(r, 0) = x0 + (x1 - x0) * static_cast<double>(i) / (nx - 1);
      tile(r, 1) = y0 + (y1 - y0) * static_cast<double>(j) / (ny - 1);
    }
    const Labels labels = predict(tile);
    if (labels.size() != rows) {
      throw std::invalid_argument("decision_boundary: predict returned " +
                                  std::to_string(labels.size()) + " labels for " +
                                  std::to_string(rows) + " grid points");
    }
    for (std::size_t r = 0; r < rows; ++r) {
      if (labels[r] < 0 || labels[r] >= classes) {
        throw std::invalid_argument("decision_boundary: predict returned label " +
                                    std::to_string(labels[r]) + " for a grid point, outside 0.." +
                                    std::to_string(classes - 1));
      }
      z[first + r] = labels[r];
    }
  }
  return z;
}

Image points_plot(const Matrix& X, const Labels& y, int classes, const Predict* predict,
                  const std::string& title, int size_px) {
  // The blog's plot_decision_boundary widens the data range by 0.5 on every side.
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (std::size_t i = 0; i < X.shape(0); ++i) {
    x0 = std::min(x0, X(i, 0) - 0.5);
    x1 = std::max(x1, X(i, 0) + 0.5);
    y0 = std::min(y0, X(i, 1) - 0.5);
    y1 = std::max(y1, X(i, 1) + 0.5);
  }
  const Title heading = fit_title(title, static_cast<int>(0.96 * size_px), text_size(size_px, size_px));
  const Box box{0.11, 0.97, 0.08, 1.0 - heading.band_px(text_size(size_px, size_px)) / size_px};
  const int nx = static_cast<int>(std::lround((box.right - box.left) * size_px));
  const int ny = static_cast<int>(std::lround((box.top - box.bottom) * size_px));
  std::vector<double> z;
  if (predict != nullptr) z = classify_grid(*predict, classes, x0, x1, y0, y1, nx, ny);

  // Colour map 0 after the fixed inks: the classes' point colours, then their edges.
  std::vector<Color> inks;
  for (int k = 0; k < classes; ++k) inks.push_back(point_color(k));
  for (int k = 0; k < classes; ++k) inks.push_back(mix(point_color(k), black, 0.6));

  Image img(size_px, size_px);
  Figure figure(img, inks);
  plvpor(box.left, box.right, box.bottom, box.top);
  plwind(x0, x1, y0, y1);
  if (predict != nullptr) {
    // Filled regions between the levels k - 1/2 and k + 1/2 of the label grid; PLplot finds the
    // boundary between grid points by linear interpolation, so it comes out smooth.
    std::vector<PLINT> r, g, b;
    for (int k = 0; k < std::max(classes, 2); ++k) {
      const Color c = region_color(std::min(k, classes - 1));
      r.push_back(c.r);
      g.push_back(c.g);
      b.push_back(c.b);
    }
    plscmap1(r.data(), g.data(), b.data(), static_cast<PLINT>(r.size()));
    std::vector<double> levels;
    for (int k = 0; k <= std::max(classes, 2); ++k) levels.push_back(k - 0.5);
    std::vector<const PLFLT*> columns;
    for (int i = 0; i < nx; ++i) columns.push_back(z.data() + static_cast<std::size_t>(i) * ny);
    plshades(columns.data(), nx, ny, nullptr, x0, x1, y0, y1, levels.data(),
             static_cast<PLINT>(levels.size()), 0.0, 0, 0.0, plfill, 1, nullptr, nullptr);
  } else {
    plcol0(grid_ink);
    plbox("g", 0.0, 0, "g", 0.0, 0);
  }
  plcol0(text_ink);
  plwidth(1.0);
  plbox("bcnst", 0.0, 0, "bcnstv", 0.0, 0);
  draw_title(heading, figure);

  // Discs with dark edges, as matplotlib's scatter; the radius is in pixels, so in world units it
  // differs along x and y.
  const double radius_px = std::max(3.0, size_px / 110.0);
  const double rx = radius_px * (x1 - x0) / ((box.right - box.left) * size_px);
  const double ry = radius_px * (y1 - y0) / ((box.top - box.bottom) * size_px);
  constexpr int sides = 24;
  std::vector<PLFLT> px(sides + 1), py(sides + 1);
  for (std::size_t i = 0; i < y.size(); ++i) {
    for (int s = 0; s <= sides; ++s) {
      const double a = 2.0 * M_PI * s / sides;
      px[s] = X(i, 0) + rx * std::cos(a);
      py[s] = X(i, 1) + ry * std::sin(a);
    }
    plcol0(first_own_ink + y[i]);
    plfill(sides, px.data(), py.data());
    plcol0(first_own_ink + classes + y[i]);
    plline(sides + 1, px.data(), py.data());
  }
  return img;
}

// ---- lines ---------------------------------------------------------------------------------

void check_series(const Series& s, const std::string& who) {
  if (s.xs.size() != s.ys.size()) {
    throw std::invalid_argument(who + std::to_string(s.xs.size()) + " x values but " +
                                std::to_string(s.ys.size()) + " y values");
  }
  if (s.xs.empty()) {
    throw std::invalid_argument(who + "no points");
  }
  for (std::size_t i = 0; i < s.xs.size(); ++i) {
    if (!std::isfinite(s.xs[i]) || !std::isfinite(s.ys[i])) {
      throw std::invalid_argument(who + "point " + std::to_string(i) + " is not finite");
    }
  }
}

// The range of v with 5% of it added on both sides (a unit around a single value).
std::pair<double, double> padded_range(const std::vector<double>& v) {
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  if (*hi - *lo <= 1e-12 * std::max(1.0, std::abs(*hi))) return {*lo - 1.0, *hi + 1.0};
  const double pad = 0.05 * (*hi - *lo);
  return {*lo - pad, *hi + pad};
}

// ---- files ---------------------------------------------------------------------------------

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<unsigned char>*>(context);
  const auto* bytes = static_cast<const unsigned char*>(data);
  out->insert(out->end(), bytes, bytes + size);
}

}  // namespace

// ---- Image ---------------------------------------------------------------------------------

Image::Image(int width, int height, Color background) : width_(width), height_(height) {
  if (width <= 0 || height <= 0) {
    throw std::invalid_argument("plot::Image: size must be positive, got " + std::to_string(width) +
                                " x " + std::to_string(height));
  }
  rgb_.resize(static_cast<std::size_t>(width) * height * 3);
  for (std::size_t i = 0; i < rgb_.size(); i += 3) {
    rgb_[i] = background.r;
    rgb_[i + 1] = background.g;
    rgb_[i + 2] = background.b;
  }
}

Color Image::pixel(int x, int y) const {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) {
    throw std::out_of_range("plot::Image::pixel: (" + std::to_string(x) + ", " + std::to_string(y) +
                            ") is outside " + std::to_string(width_) + " x " +
                            std::to_string(height_));
  }
  const std::size_t i = (static_cast<std::size_t>(y) * width_ + x) * 3;
  return {rgb_[i], rgb_[i + 1], rgb_[i + 2]};
}

void Image::set_pixel(int x, int y, Color c) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) {
    return;
  }
  const std::size_t i = (static_cast<std::size_t>(y) * width_ + x) * 3;
  rgb_[i] = c.r;
  rgb_[i + 1] = c.g;
  rgb_[i + 2] = c.b;
}

void Image::blit(const Image& other, int x, int y) {
  for (int j = 0; j < other.height(); ++j) {
    for (int i = 0; i < other.width(); ++i) {
      set_pixel(x + i, y + j, other.pixel(i, j));
    }
  }
}

// ---- colours -------------------------------------------------------------------------------

Color point_color(int k) {
  static constexpr Color palette[] = {
      {213, 62, 79},    // red
      {50, 136, 189},   // blue
      {166, 200, 40},   // yellow-green
      {244, 109, 67},   // orange
      {94, 79, 162},    // purple
      {102, 194, 165},  // teal
      {253, 174, 97},   // light orange
      {158, 1, 66},     // dark red
  };
  const int n = static_cast<int>(sizeof palette / sizeof palette[0]);
  return palette[((k % n) + n) % n];
}

Color region_color(int k) { return mix(point_color(k), white, 0.55); }

// ---- PNG files -----------------------------------------------------------------------------

void write_png(const Image& image, const std::string& path) {
  std::vector<unsigned char> png;
  if (stbi_write_png_to_func(append_bytes, &png, image.width(), image.height(), 3, image.data(),
                             image.width() * 3) == 0) {
    throw std::runtime_error("write_png: cannot write '" + path + "': encoding failed");
  }

  try {
    autograd::write_file(path, std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string("write_png: ") + e.what());
  }
}

// ---- figures -------------------------------------------------------------------------------

Image decision_boundary(const Matrix& X, const Labels& y, int classes, const Predict& predict,
                        const std::string& title, int size_px) {
  check_points("decision_boundary", X, y, classes, size_px);
  if (!predict) {
    throw std::invalid_argument("decision_boundary: predict is empty");
  }
  return points_plot(X, y, classes, &predict, title, size_px);
}

Image scatter(const Matrix& X, const Labels& y, int classes, const std::string& title,
              int size_px) {
  check_points("scatter", X, y, classes, size_px);
  return points_plot(X, y, classes, nullptr, title, size_px);
}

Image grid(const std::vector<Image>& tiles, int columns) {
  if (tiles.empty()) {
    throw std::invalid_argument("plot::grid: no tiles");
  }
  if (columns < 1) {
    throw std::invalid_argument("plot::grid: columns must be at least 1, got " +
                                std::to_string(columns));
  }
  int cell_w = 0;
  int cell_h = 0;
  for (const Image& t : tiles) {
    cell_w = std::max(cell_w, t.width());
    cell_h = std::max(cell_h, t.height());
  }
  const int n = static_cast<int>(tiles.size());
  const int cols = std::min(columns, n);
  const int rows = (n + cols - 1) / cols;
  const int gap = 8;
  Image out(cols * cell_w + (cols + 1) * gap, rows * cell_h + (rows + 1) * gap);
  for (int k = 0; k < n; ++k) {
    const Image& t = tiles[static_cast<std::size_t>(k)];
    const int x = gap + (k % cols) * (cell_w + gap) + (cell_w - t.width()) / 2;
    const int y = gap + (k / cols) * (cell_h + gap) + (cell_h - t.height()) / 2;
    out.blit(t, x, y);
  }
  return out;
}

Image line_plot(const std::vector<double>& xs, const std::vector<double>& ys,
                const std::string& title, const std::string& xlabel, const std::string& ylabel,
                int w, int h) {
  return line_plot(std::vector<Series>{Series{"", xs, ys}}, title, xlabel, ylabel, w, h);
}

Image line_plot(const std::vector<Series>& series, const std::string& title,
                const std::string& xlabel, const std::string& ylabel, int w, int h) {
  if (series.empty()) {
    throw std::invalid_argument("line_plot: no series");
  }
  if (w < 200 || h < 150) {
    throw std::invalid_argument("line_plot: size must be at least 200 x 150, got " +
                                std::to_string(w) + " x " + std::to_string(h));
  }
  std::vector<double> all_x, all_y;
  std::vector<Color> inks;
  for (std::size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    check_series(s, series.size() == 1 ? "line_plot: "
                                       : "line_plot: series " + std::to_string(k) +
                                             (s.name.empty() ? "" : " (" + s.name + ")") + ": ");
    all_x.insert(all_x.end(), s.xs.begin(), s.xs.end());
    all_y.insert(all_y.end(), s.ys.begin(), s.ys.end());
    inks.push_back(series_color(k));
  }
  const auto [x0, x1] = padded_range(all_x);
  auto [y0, y1] = padded_range(all_y);

  Image img(w, h);
  Figure figure(img, inks);
  // Margins in pixels, turned into fractions of the picture.
  const double s = figure.size();
  const Title heading = fit_title(title, static_cast<int>(0.96 * w), s);
  const double box_top = 1.0 - (heading.band_px(s) + 8.0) / h;
  const double box_bottom = 52.0 * s / h;
  plvpor(70.0 * s / w, 1.0 - 16.0 / w, box_bottom, box_top);
  // The legend sits inside the box at the top right; the y range grows upwards by its height, so
  // that no curve passes under it.
  std::size_t named = 0;
  for (const Series& one : series) named += one.name.empty() ? 0 : 1;
  const double legend_px = named == 0 ? 0.0 : 20.0 * s * static_cast<double>(named) + 20.0;
  const double box_px = (box_top - box_bottom) * h;
  y1 += (y1 - y0) * legend_px / std::max(box_px - legend_px, 0.25 * box_px);
  plwind(x0, x1, y0, y1);
  plcol0(grid_ink);
  plbox("g", 0.0, 0, "g", 0.0, 0);
  plcol0(text_ink);
  plbox("bcnstf", 0.0, 0, "bcnstvf", 0.0, 0);  // f: plain numbers, no "(x10^4)"
  pllab(xlabel.c_str(), ylabel.c_str(), "");
  draw_title(heading, figure);

  plwidth(2.0);
  for (std::size_t k = 0; k < series.size(); ++k) {
    plcol0(first_own_ink + static_cast<PLINT>(k));
    plline(static_cast<PLINT>(series[k].xs.size()), series[k].xs.data(), series[k].ys.data());
  }
  plwidth(1.0);

  // The legend lists the named series: a line sample in its colour, then the name.
  std::vector<PLINT> opts, colors, styles, zeros;
  std::vector<PLFLT> widths, ones;
  std::vector<const char*> names;
  for (std::size_t k = 0; k < series.size(); ++k) {
    if (series[k].name.empty()) continue;
    opts.push_back(PL_LEGEND_LINE);
    colors.push_back(first_own_ink + static_cast<PLINT>(k));
    styles.push_back(1);
    widths.push_back(2.0);
    zeros.push_back(0);
    ones.push_back(1.0);
    names.push_back(series[k].name.c_str());
  }
  if (!names.empty()) {
    const std::vector<PLINT> text_colors(names.size(), text_ink);
    PLFLT legend_w = 0.0;
    PLFLT legend_h = 0.0;
    pllegend(&legend_w, &legend_h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
             PL_POSITION_TOP | PL_POSITION_RIGHT | PL_POSITION_INSIDE, 0.02, 0.03, 0.08,
             background_ink, grid_ink, 1, 0, 0, static_cast<PLINT>(names.size()), opts.data(),
             1.0, 0.9 * figure.text_scale(), 2.0, 0.0, text_colors.data(), names.data(), nullptr, nullptr, nullptr,
             nullptr, colors.data(), styles.data(), widths.data(), nullptr, nullptr, nullptr,
             nullptr);
  }
  return img;
}

}  // namespace plot
