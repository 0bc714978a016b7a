#include "autograd/dot.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace autograd {

namespace {

// Text inside a DOT double-quoted string: quotes and backslashes escaped, line breaks as \n (a
// centred line), other control characters dropped.
std::string escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) >= 0x20) {
      out += c;
    }
  }
  return out;
}

std::string format_norm(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

template <class T>
double frobenius(const BasicMatrix<T>& m) {
  double s = 0.0;
  for (const T v : m) s += static_cast<double>(v) * static_cast<double>(v);
  return std::sqrt(s);
}

std::string unique_suffix() {
  static std::atomic<unsigned> counter{0};
  const auto ticks = std::chrono::steady_clock::now().time_since_epoch().count();
  return ".tmp" + std::to_string(std::random_device{}()) + "-" + std::to_string(ticks) + "-" +
         std::to_string(counter++);
}

}  // namespace

template <class T>
std::string to_dot(const BasicTape<T>& tape, const BasicVar<T>& loss) {
  const BasicNode<T>* root = nullptr;
  try {
    root = &tape.node(loss);
  } catch (const std::logic_error& e) {
    throw std::logic_error(std::string("to_dot: the loss handle: ") + e.what());
  }
  // The values the loss depends on: walk the inputs back from it.
  std::vector<bool> used(root->index + 1, false);
  used[root->index] = true;
  for (std::size_t k = root->index + 1; k-- > 0;) {
    if (!used[k]) continue;
    for (const std::uint32_t i : tape.at(k).in) used[i] = true;
  }
  const bool differentiated = root->has_grad;

  std::string dot =
      "digraph tape {\n"
      "  rankdir=LR;\n"
      "  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=\"DejaVu Sans\"];\n"
      "  edge [color=\"#555555\"];\n";
  for (std::size_t k = 0; k <= root->index; ++k) {
    if (!used[k]) continue;
    const BasicNode<T>& n = tape.at(k);
    const BasicMatrix<T>& value = tape.value(static_cast<std::uint32_t>(k));
    std::string label = n.op->name;
    if (n.param && !n.param->name.empty()) label += " " + n.param->name;
    label += "\n[" + std::to_string(value.shape(0)) + " x " + std::to_string(value.shape(1)) + "]";
    if (differentiated && n.requires_grad) {
      const double norm = n.param  ? frobenius(n.param->grad)
                          : n.has_grad ? frobenius(n.grad)
                                       : 0.0;
      label += "\n|grad| = " + format_norm(norm);
    }
    std::string attrs = "label=\"" + escape(label) + "\"";
    if (n.param) {
      attrs += ", fillcolor=\"#cfe3f3\", penwidth=2";
    } else if (!n.requires_grad) {
      attrs += ", fillcolor=\"#eeeeee\", fontcolor=\"#555555\"";
    }
    if (k == root->index) attrs += ", penwidth=2, color=\"#b2182b\"";
    dot += "  n" + std::to_string(k) + " [" + attrs + "];\n";
  }
  for (std::size_t k = 0; k <= root->index; ++k) {
    if (!used[k]) continue;
    for (const std::uint32_t i : tape.at(k).in) {
      dot += "  n" + std::to_string(i) + " -> n" + std::to_string(k) + ";\n";
    }
  }
  dot += "}\n";
  return dot;
}

template <class T>
void write_dot(const BasicTape<T>& tape, const BasicVar<T>& loss, const std::string& path) {
  namespace fs = std::filesystem;
  const std::string text = to_dot(tape, loss);
  const fs::path target(path);
  fs::path temp = target;
  temp += unique_suffix();
  std::error_code ignored;
  {
    errno = 0;
    std::ofstream out(temp, std::ios::binary);
    if (!out) {
      const int err = errno;
      const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
      std::string why = err != 0 ? std::strerror(err) : "cannot create a file there";
      if (!fs::exists(folder, ignored)) {
        why = "folder '" + folder.string() + "' does not exist";
      } else if (!fs::is_directory(folder, ignored)) {
        why = "'" + folder.string() + "' is not a folder";
      }
      throw std::runtime_error("write_dot: cannot write '" + path + "': " + why);
    }
    out << text;
    out.close();
    if (!out) {
      const int err = errno;
      fs::remove(temp, ignored);
      throw std::runtime_error("write_dot: cannot write '" + path +
                               "': " + (err != 0 ? std::strerror(err) : "write failed"));
    }
  }
  std::error_code ec;
  fs::rename(temp, target, ec);
  if (ec) {
    fs::remove(temp, ignored);
    throw std::runtime_error("write_dot: cannot write '" + path + "': " + ec.message());
  }
}

template std::string to_dot(const BasicTape<double>&, const BasicVar<double>&);
template std::string to_dot(const BasicTape<float>&, const BasicVar<float>&);
template void write_dot(const BasicTape<double>&, const BasicVar<double>&, const std::string&);
template void write_dot(const BasicTape<float>&, const BasicVar<float>&, const std::string&);

}  // namespace autograd
