#include "plot.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include <stb_easy_font.h>
#include <stb_image_write.h>

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

// ---- text ----------------------------------------------------------------------------------

struct Quad {
  float x0, y0, x1, y1;  // font units, y down
};

// stb_easy_font indexes a table by (char - 32) without checking, so anything outside printable
// ASCII (tabs, UTF-8 bytes) must be replaced before it gets there.
std::vector<char> printable(const std::string& text) {
  std::vector<char> out;
  out.reserve(text.size() + 1);
  for (char c : text) {
    const bool ok = c == '\n' || (c >= 32 && c < 127);
    out.push_back(ok ? c : '?');
  }
  out.push_back('\0');
  return out;
}

std::vector<Quad> text_quads(const std::string& text) {
  std::vector<char> chars = printable(text);
  // Four 16-byte vertices per quad; no glyph has more than 20 quads.
  std::vector<char> vertices(chars.size() * 20 * 64 + 64);
  const int count = stb_easy_font_print(0.0f, 0.0f, chars.data(), nullptr, vertices.data(),
                                        static_cast<int>(vertices.size()));
  std::vector<Quad> quads;
  quads.reserve(static_cast<std::size_t>(count));
  for (int q = 0; q < count; ++q) {
    float xs[4];
    float ys[4];
    for (int v = 0; v < 4; ++v) {
      const char* vertex = vertices.data() + (q * 4 + v) * 16;
      std::memcpy(&xs[v], vertex, sizeof(float));
      std::memcpy(&ys[v], vertex + 4, sizeof(float));
    }
    quads.push_back({*std::min_element(xs, xs + 4), *std::min_element(ys, ys + 4),
                     *std::max_element(xs, xs + 4), *std::max_element(ys, ys + 4)});
  }
  return quads;
}

// The font's quads scaled by `scale` and box-filtered into pixels: each pixel takes the colour in
// proportion to the area the quads cover, so fractional scales come out smooth, integer ones crisp.
// Turned text maps font (u, v) to picture (v, width - u), reading bottom to top.
void paint_text(Image& img, int x, int y, const std::string& text, double scale, Color c,
                bool turned) {
  if (!(scale > 0.0)) {
    throw std::invalid_argument("plot::Image::draw_text: scale must be positive, got " +
                                std::to_string(scale));
  }
  const std::vector<Quad> quads = text_quads(text);
  if (quads.empty()) {
    return;
  }
  float max_u = 0.0f;
  float max_v = 0.0f;
  for (const Quad& q : quads) {
    max_u = std::max(max_u, q.x1);
    max_v = std::max(max_v, q.y1);
  }
  const double text_w = max_u * scale;
  const int box_w = static_cast<int>(std::ceil(turned ? max_v * scale : text_w));
  const int box_h = static_cast<int>(std::ceil(turned ? text_w : max_v * scale));
  std::vector<float> coverage(static_cast<std::size_t>(box_w) * box_h, 0.0f);
  for (const Quad& q : quads) {
    double x0 = q.x0 * scale;
    double x1 = q.x1 * scale;
    double y0 = q.y0 * scale;
    double y1 = q.y1 * scale;
    if (turned) {
      std::tie(x0, x1, y0, y1) = std::make_tuple(y0, y1, text_w - x1, text_w - x0);
    }
    for (int j = std::max(0, static_cast<int>(y0));
         j < std::min(box_h, static_cast<int>(std::ceil(y1))); ++j) {
      const double cover_y = std::min(y1, j + 1.0) - std::max(y0, static_cast<double>(j));
      for (int i = std::max(0, static_cast<int>(x0));
           i < std::min(box_w, static_cast<int>(std::ceil(x1))); ++i) {
        const double cover_x = std::min(x1, i + 1.0) - std::max(x0, static_cast<double>(i));
        coverage[static_cast<std::size_t>(j) * box_w + i] += static_cast<float>(cover_x * cover_y);
      }
    }
  }
  for (int j = 0; j < box_h; ++j) {
    for (int i = 0; i < box_w; ++i) {
      const float a = coverage[static_cast<std::size_t>(j) * box_w + i];
      if (a > 0.0f) {
        img.blend_pixel(x + i, y + j, c, std::min(a, 1.0f));
      }
    }
  }
}

// ---- axes ----------------------------------------------------------------------------------

constexpr Color frame_color{60, 60, 60};
constexpr Color text_color{30, 30, 30};
constexpr Color gridline_color{232, 232, 232};
constexpr int tick_length = 4;

struct Ticks {
  std::vector<double> values;
  std::vector<std::string> labels;
};

// About `target` round-numbered ticks (steps of 1, 2 or 5 times a power of ten) inside [lo, hi].
Ticks nice_ticks(double lo, double hi, int target) {
  const double span = hi - lo;
  if (!(span > 0.0) || !std::isfinite(span)) {
    return {};
  }
  const double magnitude = std::pow(10.0, std::floor(std::log10(span / target)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    if (span / step <= target) {
      break;
    }
  }
  const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  Ticks ticks;
  for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + 1e-9 * step; k += 1.0) {
    const double v = std::abs(k) < 0.5 ? 0.0 : k * step;  // never "-0"
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    ticks.values.push_back(v);
    ticks.labels.emplace_back(buf);
  }
  return ticks;
}

// A data rectangle [x0, x1] x [y0, y1] shown in a pixel rectangle; y grows upwards.
struct Frame {
  int left, top, width, height;
  double x0, x1, y0, y1;

  double px(double x) const { return left + (x - x0) / (x1 - x0) * width; }
  double py(double y) const { return top + (y1 - y) / (y1 - y0) * height; }
  // Data coordinates of the centre of plot pixel (i, j).
  double data_x(int i) const { return x0 + (i + 0.5) / width * (x1 - x0); }
  double data_y(int j) const { return y1 - (j + 0.5) / height * (y1 - y0); }
};

// Text sizes (font scales) for a picture whose smaller side is size_px: about matplotlib's 10 pt
// ticks and 12 pt titles at 100 dpi, smaller in small pictures such as grid tiles.
struct TextScales {
  double title;
  double label;
  double tick;
};

TextScales text_scales(int size_px) {
  if (size_px >= 400) {
    return {2.5, 2.0, 1.5};
  }
  return {2.0, 1.5, 1.0};
}

int max_label_width(const Ticks& t, double tick_scale) {
  int w = 0;
  for (const auto& s : t.labels) {
    w = std::max(w, text_width(s, tick_scale));
  }
  return w;
}

void draw_gridlines(Image& img, const Frame& f, const Ticks& xt, const Ticks& yt) {
  for (double v : xt.values) {
    img.fill_rect(static_cast<int>(std::floor(f.px(v))), f.top, 1, f.height, gridline_color);
  }
  for (double v : yt.values) {
    img.fill_rect(f.left, static_cast<int>(std::floor(f.py(v))), f.width, 1, gridline_color);
  }
}

void draw_axes(Image& img, const Frame& f, const Ticks& xt, const Ticks& yt, double tick_scale) {
  img.fill_rect(f.left - 1, f.top - 1, f.width + 2, 1, frame_color);
  img.fill_rect(f.left - 1, f.top + f.height, f.width + 2, 1, frame_color);
  img.fill_rect(f.left - 1, f.top - 1, 1, f.height + 2, frame_color);
  img.fill_rect(f.left + f.width, f.top - 1, 1, f.height + 2, frame_color);
  const int label_h = text_height("0", tick_scale);
  for (std::size_t i = 0; i < xt.values.size(); ++i) {
    const int x = static_cast<int>(std::floor(f.px(xt.values[i])));
    img.fill_rect(x, f.top + f.height + 1, 1, tick_length, frame_color);
    const int w = text_width(xt.labels[i], tick_scale);
    img.draw_text(x - w / 2, f.top + f.height + tick_length + 4, xt.labels[i], tick_scale,
                  text_color);
  }
  for (std::size_t i = 0; i < yt.values.size(); ++i) {
    const int y = static_cast<int>(std::floor(f.py(yt.values[i])));
    img.fill_rect(f.left - 1 - tick_length, y, tick_length, 1, frame_color);
    const int w = text_width(yt.labels[i], tick_scale);
    img.draw_text(f.left - tick_length - 5 - w, y - label_h / 2, yt.labels[i], tick_scale,
                  text_color);
  }
}

// Greedy word wrap; a word wider than `avail` gets a line of its own (and is clipped when drawn).
std::vector<std::string> wrap_words(const std::string& text, int avail, double scale) {
  std::vector<std::string> lines;
  std::string line;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t space = text.find(' ', pos);
    const std::string word =
        text.substr(pos, space == std::string::npos ? std::string::npos : space - pos);
    pos = space == std::string::npos ? text.size() : space + 1;
    if (word.empty()) {
      continue;
    }
    const std::string longer = line.empty() ? word : line + " " + word;
    if (line.empty() || text_width(longer, scale) <= avail) {
      line = longer;
    } else {
      lines.push_back(line);
      line = word;
    }
  }
  if (!line.empty()) {
    lines.push_back(line);
  }
  return lines;
}

struct Title {
  std::vector<std::string> lines;
  double scale = 1.0;
  int height = 0;  // pixels, 0 without a title
};

// Long titles (accuracies, settings) must not run off the picture: keep the preferred size on up
// to two lines if possible, else shrink in half steps down to the font's own size, wrapping freely.
Title fit_title(const std::string& text, int avail, double preferred) {
  Title t;
  for (double scale = preferred; scale >= 1.0; scale -= 0.5) {
    t.scale = scale;
    t.lines = wrap_words(text, avail, scale);
    const bool fits = t.lines.size() <= 2 &&
                      std::all_of(t.lines.begin(), t.lines.end(), [&](const std::string& l) {
                        return text_width(l, scale) <= avail;
                      });
    if (fits) {
      break;
    }
  }
  if (!t.lines.empty()) {
    t.height = static_cast<int>(std::ceil((12.0 * (t.lines.size() - 1) + 9.0) * t.scale));
  }
  return t;
}

void draw_title(Image& img, const Title& title, int top) {
  for (std::size_t i = 0; i < title.lines.size(); ++i) {
    const int w = text_width(title.lines[i], title.scale);
    const int y = top + static_cast<int>(std::lround(12.0 * i * title.scale));
    img.draw_text((img.width() - w) / 2, y, title.lines[i], title.scale, text_color);
  }
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

// The blog's plot_decision_boundary widens the data range by 0.5 on every side.
Frame points_frame(const Matrix& X) {
  Frame f{};
  f.x0 = std::numeric_limits<double>::infinity();
  f.x1 = -f.x0;
  f.y0 = f.x0;
  f.y1 = -f.x0;
  for (std::size_t i = 0; i < X.shape(0); ++i) {
    f.x0 = std::min(f.x0, X(i, 0));
    f.x1 = std::max(f.x1, X(i, 0));
    f.y0 = std::min(f.y0, X(i, 1));
    f.y1 = std::max(f.y1, X(i, 1));
  }
  f.x0 -= 0.5;
  f.x1 += 0.5;
  f.y0 -= 0.5;
  f.y1 += 0.5;
  return f;
}

Image points_plot(const Matrix& X, const Labels& y, const Predict* predict,
                  const std::string& title, int size_px) {
  Frame f = points_frame(X);
  const Ticks xt = nice_ticks(f.x0, f.x1, 8);
  const Ticks yt = nice_ticks(f.y0, f.y1, 8);
  const TextScales scales = text_scales(size_px);

  const int margin = 12;
  const Title heading = fit_title(title, size_px - 2 * margin, scales.title);
  const int title_h = heading.height == 0 ? 0 : heading.height + 10;
  f.top = margin + title_h;
  f.left = margin + max_label_width(yt, scales.tick) + tick_length + 6;
  f.width = size_px - f.left - margin - 4;
  f.height = size_px - f.top - (tick_length + 6 + text_height("0", scales.tick) + margin);

  Image img(size_px, size_px);
  draw_title(img, heading, margin);
  if (predict != nullptr) {
    // The grid's points go to predict a tile at a time, so that the activations of a large
    // network over the ~200k pixels are never all held at once.
    const std::size_t n = static_cast<std::size_t>(f.width) * static_cast<std::size_t>(f.height);
    const std::size_t width = static_cast<std::size_t>(f.width);
    for (std::size_t first = 0; first < n; first += boundary_tile) {
      const std::size_t rows = std::min(boundary_tile, n - first);
      Matrix tile = Matrix::from_shape({rows, 2});
      for (std::size_t r = 0; r < rows; ++r) {
        tile(r, 0) = f.data_x(static_cast<int>((first + r) % width));
        tile(r, 1) = f.data_y(static_cast<int>((first + r) / width));
      }
      const Labels z = (*predict)(tile);
      if (z.size() != rows) {
        throw std::invalid_argument("decision_boundary: predict returned " +
                                    std::to_string(z.size()) + " labels for " +
                                    std::to_string(rows) + " grid points");
      }
      for (std::size_t r = 0; r < rows; ++r) {
        img.set_pixel(f.left + static_cast<int>((first + r) % width),
                      f.top + static_cast<int>((first + r) / width), region_color(z[r]));
      }
    }
  } else {
    draw_gridlines(img, f, xt, yt);
  }
  draw_axes(img, f, xt, yt, scales.tick);

  const double radius = std::max(3.0, size_px / 110.0);
  for (std::size_t i = 0; i < y.size(); ++i) {
    const double cx = f.px(X(i, 0));
    const double cy = f.py(X(i, 1));
    const Color fill = point_color(y[i]);
    img.fill_circle(cx, cy, radius, mix(fill, black, 0.55));
    img.fill_circle(cx, cy, radius - 1.1, fill);
  }
  return img;
}

// ---- lines ---------------------------------------------------------------------------------

// Anti-aliased polyline of the given width, clipped to the frame. Coverage is the maximum over
// segments, so joints are not drawn twice darker.
void stroke(Image& img, const Frame& f, const std::vector<double>& xs,
            const std::vector<double>& ys, double line_width, Color c) {
  std::vector<float> coverage(static_cast<std::size_t>(f.width) * f.height, 0.0f);
  const double half = line_width / 2.0;
  const auto cover = [&](double ax, double ay, double bx, double by) {
    const int i0 = std::max(0, static_cast<int>(std::floor(std::min(ax, bx) - half - 1)) - f.left);
    const int i1 =
        std::min(f.width - 1, static_cast<int>(std::ceil(std::max(ax, bx) + half + 1)) - f.left);
    const int j0 = std::max(0, static_cast<int>(std::floor(std::min(ay, by) - half - 1)) - f.top);
    const int j1 =
        std::min(f.height - 1, static_cast<int>(std::ceil(std::max(ay, by) + half + 1)) - f.top);
    const double dx = bx - ax;
    const double dy = by - ay;
    const double len2 = dx * dx + dy * dy;
    for (int j = j0; j <= j1; ++j) {
      for (int i = i0; i <= i1; ++i) {
        const double qx = f.left + i + 0.5;
        const double qy = f.top + j + 0.5;
        const double t =
            len2 > 0 ? std::clamp(((qx - ax) * dx + (qy - ay) * dy) / len2, 0.0, 1.0) : 0.0;
        const double d = std::hypot(qx - (ax + t * dx), qy - (ay + t * dy));
        const float a = static_cast<float>(std::clamp(half + 0.5 - d, 0.0, 1.0));
        float& slot = coverage[static_cast<std::size_t>(j) * f.width + i];
        slot = std::max(slot, a);
      }
    }
  };
  if (xs.size() == 1) {
    cover(f.px(xs[0]), f.py(ys[0]), f.px(xs[0]), f.py(ys[0]));
  }
  for (std::size_t k = 1; k < xs.size(); ++k) {
    cover(f.px(xs[k - 1]), f.py(ys[k - 1]), f.px(xs[k]), f.py(ys[k]));
  }
  for (int j = 0; j < f.height; ++j) {
    for (int i = 0; i < f.width; ++i) {
      const float a = coverage[static_cast<std::size_t>(j) * f.width + i];
      if (a > 0.0f) {
        img.blend_pixel(f.left + i, f.top + j, c, a);
      }
    }
  }
}

// matplotlib's default: 5% of the range added on both sides; a flat range gets some height.
std::pair<double, double> padded_range(const std::vector<double>& v) {
  double lo = *std::min_element(v.begin(), v.end());
  double hi = *std::max_element(v.begin(), v.end());
  if (hi - lo <= 1e-12 * std::max(1.0, std::abs(lo))) {
    const double pad = std::max(0.5, 0.1 * std::abs(lo));
    return {lo - pad, hi + pad};
  }
  const double pad = 0.05 * (hi - lo);
  return {lo - pad, hi + pad};
}

// ---- files ---------------------------------------------------------------------------------

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<unsigned char>*>(context);
  const auto* bytes = static_cast<const unsigned char*>(data);
  out->insert(out->end(), bytes, bytes + size);
}

std::string unique_suffix() {
  static std::atomic<unsigned> counter{0};
  const auto ticks = std::chrono::steady_clock::now().time_since_epoch().count();
  return ".tmp" + std::to_string(std::random_device{}()) + "-" + std::to_string(ticks) + "-" +
         std::to_string(counter++);
}

// Why a file cannot be created at `path`, for the error message.
std::string folder_problem(const std::filesystem::path& path, int err) {
  namespace fs = std::filesystem;
  const fs::path folder = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::exists(folder, ec)) {
    return "folder '" + folder.string() + "' does not exist";
  }
  if (!fs::is_directory(folder, ec)) {
    return "'" + folder.string() + "' is not a folder";
  }
  return err != 0 ? std::strerror(err) : "cannot create a file there";
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

void Image::blend_pixel(int x, int y, Color c, double alpha) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) {
    return;
  }
  set_pixel(x, y, mix(pixel(x, y), c, std::clamp(alpha, 0.0, 1.0)));
}

void Image::fill_rect(int x, int y, int w, int h, Color c) {
  const int x0 = std::max(0, x);
  const int y0 = std::max(0, y);
  const int x1 = std::min(width_, x + w);
  const int y1 = std::min(height_, y + h);
  for (int j = y0; j < y1; ++j) {
    for (int i = x0; i < x1; ++i) {
      set_pixel(i, j, c);
    }
  }
}

void Image::fill_circle(double cx, double cy, double radius, Color c) {
  const int j0 = static_cast<int>(std::floor(cy - radius - 1));
  const int j1 = static_cast<int>(std::ceil(cy + radius + 1));
  const int i0 = static_cast<int>(std::floor(cx - radius - 1));
  const int i1 = static_cast<int>(std::ceil(cx + radius + 1));
  for (int j = j0; j <= j1; ++j) {
    for (int i = i0; i <= i1; ++i) {
      const double d = std::hypot(i + 0.5 - cx, j + 0.5 - cy);
      const double a = std::clamp(radius + 0.5 - d, 0.0, 1.0);
      if (a > 0.0) {
        blend_pixel(i, j, c, a);
      }
    }
  }
}

void Image::draw_text(int x, int y, const std::string& text, double scale, Color c) {
  paint_text(*this, x, y, text, scale, c, false);
}

void Image::draw_text_vertical(int x, int y, const std::string& text, double scale, Color c) {
  paint_text(*this, x, y, text, scale, c, true);
}

void Image::blit(const Image& other, int x, int y) {
  for (int j = 0; j < other.height(); ++j) {
    for (int i = 0; i < other.width(); ++i) {
      set_pixel(x + i, y + j, other.pixel(i, j));
    }
  }
}

int text_width(const std::string& text, double scale) {
  std::vector<char> chars = printable(text);
  return static_cast<int>(std::ceil(stb_easy_font_width(chars.data()) * scale));
}

int text_height(const std::string& text, double scale) {
  // Lines are 12 font units apart; the last one needs 9 (caps are 7 high, descenders reach 9).
  const auto lines = 1 + std::count(text.begin(), text.end(), '\n');
  return static_cast<int>(std::ceil(static_cast<double>((lines - 1) * 12 + 9) * scale));
}

// ---- colours -------------------------------------------------------------------------------

Color point_color(int k) {
  // Spectral's red and blue ends first, as in the blog's two-class figures.
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
  namespace fs = std::filesystem;
  std::vector<unsigned char> png;
  if (stbi_write_png_to_func(append_bytes, &png, image.width(), image.height(), 3, image.data(),
                             image.width() * 3) == 0) {
    throw std::runtime_error("cannot write PNG '" + path + "': encoding failed");
  }

  const fs::path target(path);
  fs::path temp = target;
  temp += unique_suffix();
  std::error_code ignored;
  {
    errno = 0;
    std::ofstream out(temp, std::ios::binary);
    if (!out) {
      throw std::runtime_error("cannot write PNG '" + path + "': " + folder_problem(target, errno));
    }
    out.write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
    out.close();
    if (!out) {
      const int err = errno;
      fs::remove(temp, ignored);
      throw std::runtime_error("cannot write PNG '" + path +
                               "': " + (err != 0 ? std::strerror(err) : "write failed"));
    }
  }
  std::error_code ec;
  fs::rename(temp, target, ec);
  if (ec) {
    fs::remove(temp, ignored);
    throw std::runtime_error("cannot write PNG '" + path + "': " + ec.message());
  }
}

// ---- figures -------------------------------------------------------------------------------

Image decision_boundary(const Matrix& X, const Labels& y, int classes, const Predict& predict,
                        const std::string& title, int size_px) {
  check_points("decision_boundary", X, y, classes, size_px);
  if (!predict) {
    throw std::invalid_argument("decision_boundary: predict is empty");
  }
  // Labels from predict are checked here, where the class count is known.
  const Predict checked = [&](const Matrix& points) {
    Labels z = predict(points);
    for (std::size_t i = 0; i < z.size(); ++i) {
      if (z[i] < 0 || z[i] >= classes) {
        throw std::invalid_argument("decision_boundary: predict returned label " +
                                    std::to_string(z[i]) + " for a grid point" +
                                    ", outside 0.." + std::to_string(classes - 1));
      }
    }
    return z;
  };
  return points_plot(X, y, &checked, title, size_px);
}

Image scatter(const Matrix& X, const Labels& y, int classes, const std::string& title,
              int size_px) {
  check_points("scatter", X, y, classes, size_px);
  return points_plot(X, y, nullptr, title, size_px);
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

namespace {

// matplotlib's tab10 colours, the first being line_plot's single-curve blue.
Color series_color(std::size_t k) {
  static constexpr Color colors[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},
                                     {214, 39, 40},  {148, 103, 189}, {140, 86, 75},
                                     {227, 119, 194}, {127, 127, 127}, {188, 189, 34},
                                     {23, 190, 207}};
  return colors[k % (sizeof colors / sizeof colors[0])];
}

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

// The legend: a line sample and the name of each named series, in a white box at the top right.
void draw_legend(Image& img, const Frame& f, const std::vector<Series>& series, double scale) {
  int text_w = 0;
  int rows = 0;
  for (const Series& s : series) {
    if (s.name.empty()) continue;
    text_w = std::max(text_w, text_width(s.name, scale));
    ++rows;
  }
  if (rows == 0) return;
  const int line_h = text_height("Ag", scale) + 6;
  const int sample_w = 24;
  const int box_w = sample_w + text_w + 20;
  const int box_h = rows * line_h + 8;
  const int x = f.left + f.width - box_w - 8;
  const int y = f.top + 8;
  img.fill_rect(x, y, box_w, box_h, white);
  img.fill_rect(x, y, box_w, 1, gridline_color);
  img.fill_rect(x, y + box_h - 1, box_w, 1, gridline_color);
  img.fill_rect(x, y, 1, box_h, gridline_color);
  img.fill_rect(x + box_w - 1, y, 1, box_h, gridline_color);
  int row = 0;
  for (std::size_t k = 0; k < series.size(); ++k) {
    if (series[k].name.empty()) continue;
    const int ty = y + 5 + row * line_h;
    img.fill_rect(x + 6, ty + line_h / 2 - 2, sample_w, 2, series_color(k));
    img.draw_text(x + 12 + sample_w, ty, series[k].name, scale, text_color);
    ++row;
  }
}

}  // namespace

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
  for (std::size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    check_series(s, series.size() == 1 ? "line_plot: "
                                       : "line_plot: series " + std::to_string(k) +
                                             (s.name.empty() ? "" : " (" + s.name + ")") + ": ");
    all_x.insert(all_x.end(), s.xs.begin(), s.xs.end());
    all_y.insert(all_y.end(), s.ys.begin(), s.ys.end());
  }
  Frame f{};
  std::tie(f.x0, f.x1) = padded_range(all_x);
  std::tie(f.y0, f.y1) = padded_range(all_y);
  const Ticks xt = nice_ticks(f.x0, f.x1, 8);
  const Ticks yt = nice_ticks(f.y0, f.y1, 8);
  const TextScales scales = text_scales(std::min(w, h));

  const int margin = 12;
  const Title heading = fit_title(title, w - 2 * margin, scales.title);
  const int title_h = heading.height == 0 ? 0 : heading.height + 10;
  const int ylabel_w = ylabel.empty() ? 0 : text_height(ylabel, scales.label) + 10;
  const int xlabel_h = xlabel.empty() ? 0 : text_height(xlabel, scales.label) + 8;
  const int ticks_h = tick_length + 6 + text_height("0", scales.tick);
  f.top = margin + title_h;
  f.left = margin + ylabel_w + max_label_width(yt, scales.tick) + tick_length + 6;
  f.width = w - f.left - margin - 8;
  f.height = h - f.top - ticks_h - xlabel_h - margin;

  Image img(w, h);
  draw_title(img, heading, margin);
  draw_gridlines(img, f, xt, yt);
  draw_axes(img, f, xt, yt, scales.tick);
  for (std::size_t k = 0; k < series.size(); ++k) {
    stroke(img, f, series[k].xs, series[k].ys, 2.0, series_color(k));
  }
  draw_legend(img, f, series, scales.tick);
  if (!xlabel.empty()) {
    const int tw = text_width(xlabel, scales.label);
    img.draw_text(f.left + (f.width - tw) / 2, f.top + f.height + ticks_h + 6, xlabel, scales.label,
                  text_color);
  }
  if (!ylabel.empty()) {
    const int tw = text_width(ylabel, scales.label);
    img.draw_text_vertical(margin, f.top + (f.height - tw) / 2, ylabel, scales.label, text_color);
  }
  return img;
}

}  // namespace plot
