#include "autograd/dot.hpp"

#include "autograd/durable.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>
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
  const std::string text = to_dot(tape, loss);
  try {
    write_file(path, text);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string("write_dot: ") + e.what());
  }
}

template std::string to_dot(const BasicTape<double>&, const BasicVar<double>&);
template std::string to_dot(const BasicTape<float>&, const BasicVar<float>&);
template void write_dot(const BasicTape<double>&, const BasicVar<double>&, const std::string&);
template void write_dot(const BasicTape<float>&, const BasicVar<float>&, const std::string&);

}  // namespace autograd
