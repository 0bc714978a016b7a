// The tape's picture: the DOT text write_dot gives for the blog's network, read back and compared
// with the tape it came from.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "autograd/autograd.hpp"
#include "blog_reference.hpp"
#include "test_support.hpp"

using namespace autograd;
using Catch::Matchers::Contains;

namespace {

struct DotNode {
  std::string label;  // with DOT's escapes undone
  std::string attrs;  // everything after the label
};

struct Dot {
  std::map<int, DotNode> nodes;
  std::vector<std::pair<int, int>> edges;
};

// Reads the node and edge lines to_dot writes: `  n7 [label="…", …];` and `  n3 -> n7;`.
Dot parse(const std::string& text) {
  static const std::regex node_line(R"re(^  n(\d+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$)re");
  static const std::regex edge_line(R"(^  n(\d+) -> n(\d+);$)");
  Dot dot;
  std::istringstream in(text);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, node_line)) {
      std::string label;
      const std::string raw = m[2];
      for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\\' && i + 1 < raw.size()) {
          ++i;
          label += raw[i] == 'n' ? '\n' : raw[i];
        } else {
          label += raw[i];
        }
      }
      dot.nodes[std::stoi(m[1])] = DotNode{label, m[3]};
    } else if (std::regex_match(line, m, edge_line)) {
      dot.edges.emplace_back(std::stoi(m[1]), std::stoi(m[2]));
    }
  }
  return dot;
}

double frobenius(const Matrix& m) {
  double s = 0.0;
  for (const double v : m) s += v * v;
  return std::sqrt(s);
}

// The number after "|grad| = " in a label; NaN when there is none.
double grad_norm(const std::string& label) {
  const std::size_t at = label.find("|grad| = ");
  return at == std::string::npos ? std::nan("") : std::stod(label.substr(at + 9));
}

}  // namespace

TEST_CASE("to_dot draws the blog's network as recorded, with gradient norms after backward",
          "[dot]") {
  const Matrix X = blog::load_matrix("moons200_X.npy");
  const Labels y = blog::load_labels("moons200_y.npy");
  const blog::Model m = blog::initial_model(3);
  Parameter W1(m.W1, "W1"), b1(m.b1, "b1"), W2(m.W2, "W2"), b2(m.b2, "b2");

  // The blog's objective, every value kept as a handle to compare with the picture.
  Tape t;
  const Var unrelated = t.constant(2.0);  // recorded, but the loss does not use it
  const Var x = t.constant(X), w1 = t.param(W1), c1 = t.param(b1);
  const Var z1 = matmul(x, w1);
  const Var h1 = z1 + c1;
  const Var a1 = tanh(h1);
  const Var w2 = t.param(W2), c2 = t.param(b2);
  const Var z2 = matmul(a1, w2);
  const Var h2 = z2 + c2;
  const Var data_loss = softmax_cross_entropy(h2, y, Reduction::sum);
  const Var p1 = l2_penalty(w1), p2 = l2_penalty(w2);
  const Var penalty = p1 + p2;
  const Var scaled = 0.01 * penalty;
  const Var loss = data_loss + scaled;
  const std::vector<Var> values{x,  w1,        c1, z1, h1,      a1,     w2,  c2,
                                z2, h2, data_loss, p1, p2, penalty, scaled, loss};

  const Dot before = parse(to_dot(t, loss));
  t.backward(loss);
  const Dot after = parse(to_dot(t, loss));

  for (const Dot* dot : {&before, &after}) {
    // One node per value the loss depends on (16) and one edge per input of each op: matmul, add,
    // matmul, add, add, add take two, tanh, the cross-entropy, both penalties and scale one.
    REQUIRE(dot->nodes.size() == 16);
    CHECK(dot->edges.size() == 6 * 2 + 5 * 1);
    CHECK(dot->nodes.count(unrelated.index()) == 0);
    for (const Var& v : values) {
      REQUIRE(dot->nodes.count(v.index()) == 1);
    }
    // Every edge runs from an input to the op that used it, as the tape recorded.
    for (const auto& [from, to] : dot->edges) {
      const auto& in = t.at(static_cast<std::size_t>(to)).in;
      CHECK(std::count(in.begin(), in.end(), static_cast<std::uint32_t>(from)) > 0);
    }
  }
  const auto label = [&](const Var& v) { return after.nodes.at(v.index()).label; };
  CHECK(label(x) == "constant\n[200 x 2]");
  CHECK(label(z1).rfind("matmul\n[200 x 3]\n", 0) == 0);
  CHECK(label(h1).rfind("add\n[200 x 3]\n", 0) == 0);
  CHECK(label(a1).rfind("tanh\n[200 x 3]\n", 0) == 0);
  CHECK(label(data_loss).rfind("softmax_cross_entropy\n[1 x 1]\n", 0) == 0);
  CHECK(label(p2).rfind("l2_penalty\n[1 x 1]\n", 0) == 0);
  CHECK(label(scaled).rfind("scale\n[1 x 1]\n", 0) == 0);
  // Parameters carry their names and are filled; nothing else is filled in their colour.
  CHECK(label(w1).rfind("parameter W1\n[2 x 3]\n", 0) == 0);
  CHECK(label(c2).rfind("parameter b2\n[1 x 2]\n", 0) == 0);
  int filled = 0;
  for (const auto& [k, node] : after.nodes) filled += node.attrs.find("#cfe3f3") != std::string::npos;
  CHECK(filled == 4);

  // Before backward no label has a gradient; after it, every value but the constant has one, and
  // it is the norm of the tape's gradient. The label prints 4 significant digits, so the printed
  // norm is within 5e-4 relative of the true one: 1e-3 allows for that rounding.
  for (const auto& [k, node] : before.nodes) {
    CHECK(node.label.find("grad") == std::string::npos);
  }
  CHECK(std::isnan(grad_norm(label(x))));
  for (std::size_t i = 1; i < values.size(); ++i) {
    CAPTURE(i, label(values[i]));
    const double expected = frobenius(values[i].grad());
    REQUIRE(expected > 0.0);
    CHECK(grad_norm(label(values[i])) == Approx(expected).epsilon(1e-3));
  }
  CHECK(grad_norm(label(loss)) == Approx(1.0).epsilon(1e-12));
}

TEST_CASE("to_dot in float32, escaping, and bad handles", "[dot]") {
  f32::Parameter w(f32::Matrix{{1.0f, -2.0f}}, "w \"quoted\" \\ name");
  f32::Tape t;
  const f32::Var loss = sum(tanh(t.param(w)));
  t.backward(loss);
  const std::string text = to_dot(t, loss);
  CHECK_THAT(text, Contains(R"(parameter w \"quoted\" \\ name)"));
  const Dot dot = parse(text);
  REQUIRE(dot.nodes.size() == 3);
  CHECK(dot.edges.size() == 2);
  CHECK(dot.nodes.begin()->second.label.rfind("parameter w \"quoted\" \\ name\n[1 x 2]\n", 0) == 0);

  Tape other;
  const Var stale = other.constant(1.0);
  other.clear();
  REQUIRE_THROWS_WITH(to_dot(other, stale), Contains("to_dot") && Contains("stale"));
  Tape third;
  REQUIRE_THROWS_WITH(to_dot(third, Var()), Contains("to_dot"));
}

TEST_CASE("write_dot writes the text atomically and names the path on failure", "[dot]") {
  test_support::TempDir dir;
  Parameter w(Matrix{{0.5, 1.5}}, "w");
  Tape t;
  const Var loss = sum(t.param(w) * t.param(w));
  t.backward(loss);
  const std::string path = dir.path("tape.dot");
  write_dot(t, loss, path);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == to_dot(t, loss));
  CHECK(dir.entries() == std::vector<std::string>{"tape.dot"});

  const std::string missing = dir.path("missing/tape.dot");
  REQUIRE_THROWS_WITH(write_dot(t, loss, missing),
                      Contains("'" + missing + "'") && Contains("does not exist"));
  std::filesystem::create_directory(dir.path("taken.dot"));
  REQUIRE_THROWS_WITH(write_dot(t, loss, dir.path("taken.dot")),
                      Contains("'" + dir.path("taken.dot") + "'"));
  CHECK(dir.entries() == std::vector<std::string>{"taken.dot", "tape.dot"});
}
