// The shape ops of any rank (autograd/shape_ops.cpp): their values against plain index loops, their
// errors (each naming the op and the shapes, and recording nothing), and the 2-D spellings, which
// give what they always gave. Every op here only moves elements, so values are compared exactly.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "autograd/autograd.hpp"

using namespace autograd;
using Catch::Matchers::Contains;

namespace {

// A tensor of the given shape whose element at flat position k is 1 + k / 4: all distinct and
// exact in both precisions, so a value in the wrong place cannot pass.
template <class T = double>
BasicTensor<T> counting(const Shape& shape) {
  BasicTensor<T> x = BasicTensor<T>::from_shape(shape);
  for (std::size_t k = 0; k < x.size(); ++k) x.flat(k) = static_cast<T>(1.0 + 0.25 * static_cast<double>(k));
  return x;
}

Matrix counting_matrix(std::size_t rows, std::size_t cols, double start = 1.0) {
  Matrix m = Matrix::from_shape({rows, cols});
  for (std::size_t k = 0; k < m.size(); ++k) m.flat(k) = start + 0.25 * static_cast<double>(k);
  return m;
}

}  // namespace

// expr throws std::invalid_argument whose message contains text, and leaves the tape as it was.
#define CHECK_REFUSED(tape, expr, text)                  \
  do {                                                   \
    const std::size_t before_ = (tape).size();           \
    REQUIRE_THROWS_AS(expr, std::invalid_argument);      \
    REQUIRE_THROWS_WITH(expr, Contains(text));           \
    CHECK((tape).size() == before_);                     \
  } while (0)

TEMPLATE_TEST_CASE("permute and transpose of [2, 3, 4, 5] move each element where the dims say",
                   "[shape]", double, float) {
  using T = TestType;
  BasicTape<T> t;
  const BasicTensor<T> x = counting<T>({2, 3, 4, 5});
  const BasicVar<T> v = t.tensor(x);

  // Result dim i is input dim dims[i]: out(a, b, c, d) = x(b, d, a, c) for dims (2, 0, 3, 1).
  const BasicTensor<T> p = permute(v, {2, 0, 3, 1}).tensor();
  REQUIRE(p.shape() == Shape{4, 2, 5, 3});
  bool same = true;
  for (std::size_t a = 0; a < 4; ++a)
    for (std::size_t b = 0; b < 2; ++b)
      for (std::size_t c = 0; c < 5; ++c)
        for (std::size_t d = 0; d < 3; ++d) same = same && p(a, b, c, d) == x(b, d, a, c);
  CHECK(same);

  // Negative dims count from the end: (-2, 0, -1, 1) is (2, 0, 3, 1).
  CHECK((permute(v, {-2, 0, -1, 1}).tensor() == p));

  const BasicTensor<T> s = transpose(v, 1, -1).tensor();  // dims 1 and 3 swapped
  REQUIRE(s.shape() == Shape{2, 5, 4, 3});
  same = true;
  for (std::size_t a = 0; a < 2; ++a)
    for (std::size_t b = 0; b < 5; ++b)
      for (std::size_t c = 0; c < 4; ++c)
        for (std::size_t d = 0; d < 3; ++d) same = same && s(a, b, c, d) == x(a, d, c, b);
  CHECK(same);
}

TEST_CASE("slice takes [begin, end) along each axis of [2, 3, 4], and narrow is start and length", "[shape]") {
  Tape t;
  const Tensor x = counting({2, 3, 4});
  const Var v = t.tensor(x);
  struct Range {
    int dim;
    std::size_t begin, end;
  };
  for (Range r : {Range{0, 1, 2}, Range{1, 1, 3}, Range{2, 0, 3}, Range{-1, 2, 4}, Range{1, 2, 2}}) {
    INFO("dim " << r.dim << ", [" << r.begin << ", " << r.end << ")");
    const auto axis = static_cast<std::size_t>(r.dim < 0 ? 3 + r.dim : r.dim);
    Shape expected_shape{2, 3, 4};
    expected_shape[axis] = r.end - r.begin;
    const Tensor s = slice(v, r.dim, r.begin, r.end).tensor();
    REQUIRE(s.shape() == expected_shape);
    bool same = true;
    for (std::size_t a = 0; a < expected_shape[0]; ++a)
      for (std::size_t b = 0; b < expected_shape[1]; ++b)
        for (std::size_t c = 0; c < expected_shape[2]; ++c) {
          std::size_t i[3] = {a, b, c};
          i[axis] += r.begin;
          same = same && s(a, b, c) == x(i[0], i[1], i[2]);
        }
    CHECK(same);
    CHECK((narrow(v, r.dim, r.begin, r.end - r.begin).tensor() == s));
  }
}

TEST_CASE("concat of rank 3 along axis 1, and stack along a new axis", "[shape]") {
  Tape t;
  const Tensor a = counting({2, 1, 4}), b = counting({2, 3, 4}) + 10.0, c = counting({2, 2, 4}) + 20.0;
  const Tensor j = concat({t.tensor(a), t.tensor(b), t.tensor(c)}, 1).tensor();
  REQUIRE(j.shape() == Shape{2, 6, 4});
  bool same = true;
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t r = 0; r < 6; ++r)
      for (std::size_t k = 0; k < 4; ++k) {
        const double want = r < 1 ? a(i, r, k) : r < 4 ? b(i, r - 1, k) : c(i, r - 4, k);
        same = same && j(i, r, k) == want;
      }
  CHECK(same);
  CHECK((concat(std::vector{t.tensor(a), t.tensor(b), t.tensor(c)}, -2).tensor() == j));
  CHECK((cat({t.tensor(a), t.tensor(b), t.tensor(c)}, 1).tensor() == j));

  // stack: out(i, k, j) = part_k(i, j) along 1; a new first axis along 0.
  const Tensor p0 = counting({2, 3}), p1 = counting({2, 3}) + 10.0, p2 = counting({2, 3}) + 20.0;
  const Tensor* parts[3] = {&p0, &p1, &p2};
  const Tensor s = stack({t.tensor(p0), t.tensor(p1), t.tensor(p2)}, 1).tensor();
  REQUIRE(s.shape() == Shape{2, 3, 3});
  same = true;
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t k = 0; k < 3; ++k)
      for (std::size_t jj = 0; jj < 3; ++jj) same = same && s(i, k, jj) == (*parts[k])(i, jj);
  CHECK(same);
  const Tensor s0 = stack(std::vector{t.tensor(p0), t.tensor(p1), t.tensor(p2)}, 0).tensor();
  REQUIRE(s0.shape() == Shape{3, 2, 3});
  same = true;
  for (std::size_t k = 0; k < 3; ++k)
    for (std::size_t i = 0; i < 2; ++i)
      for (std::size_t jj = 0; jj < 3; ++jj) same = same && s0(k, i, jj) == (*parts[k])(i, jj);
  CHECK(same);
  CHECK(stack({t.tensor(p0), t.tensor(p1), t.tensor(p2)}, -1).tensor().shape() == Shape{2, 3, 3});
}

TEST_CASE("broadcast_to repeats along the stretched dims, and its gradient sums over them", "[shape]") {
  Tape t;
  const Tensor x = counting({3, 1});
  const Tensor b = broadcast_to(t.tensor(x), {2, 3, 4}).tensor();
  REQUIRE(b.shape() == Shape{2, 3, 4});
  bool same = true;
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t r = 0; r < 3; ++r)
      for (std::size_t k = 0; k < 4; ++k) same = same && b(i, r, k) == x(r, 0);
  CHECK(same);
  const Tensor s = broadcast_to(t.tensor(Tensor(2.5)), {2, 2}).tensor();  // a scalar
  CHECK((s == Tensor({{2.5, 2.5}, {2.5, 2.5}})));

  // Each of the 3 x 1 elements was copied 2 · 4 = 8 times: d Σ / d x = 8 each.
  Parameter p(counting_matrix(3, 1));
  t.backward(sum(broadcast_to(t.param(p), {2, 3, 4})));
  CHECK((p.grad == Matrix{{8.0}, {8.0}, {8.0}}));
}

TEST_CASE("index_select and embedding pick entries, and a repeated one gets every share", "[shape]") {
  Tape t;
  const Tensor x = counting({2, 3, 4});
  const Labels ids{2, 0, 2};
  const Tensor s = index_select(t.tensor(x), 1, ids).tensor();
  REQUIRE(s.shape() == Shape{2, 3, 4});
  bool same = true;
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t r = 0; r < 3; ++r)
      for (std::size_t k = 0; k < 4; ++k) same = same && s(i, r, k) == x(i, static_cast<std::size_t>(ids[r]), k);
  CHECK(same);

  // ids of [2, 3] into a [5 x 4] table give [2, 3, 4]: out(b, p, :) = table(ids[b·3 + p], :).
  Parameter table(counting_matrix(5, 4));
  const Labels words{4, 0, 4, 2, 1, 4};
  const Var e = embedding(t.param(table), words, {2, 3});
  const Tensor et = e.tensor();
  REQUIRE(et.shape() == Shape{2, 3, 4});
  same = true;
  for (std::size_t b = 0; b < 2; ++b)
    for (std::size_t p = 0; p < 3; ++p)
      for (std::size_t k = 0; k < 4; ++k)
        same = same && et(b, p, k) == table.value(static_cast<std::size_t>(words[b * 3 + p]), k);
  CHECK(same);
  // d Σ / d table row r = how often r was picked, in every column.
  t.backward(sum(e));
  const double times[5] = {1, 1, 1, 0, 3};
  same = true;
  for (std::size_t r = 0; r < 5; ++r)
    for (std::size_t k = 0; k < 4; ++k) same = same && table.grad(r, k) == times[r];
  CHECK(same);
}

TEST_CASE("reshape infers one -1, and unsqueeze and squeeze add and remove a dim of 1", "[shape]") {
  Tape t;
  const Tensor x = counting({2, 3, 4});
  const Var v = t.tensor(x);
  const Var r = reshape(v, {4, -1, 2});
  CHECK(r.shape() == Shape{4, 3, 2});
  const Tensor rt = r.tensor();
  bool same = true;
  for (std::size_t k = 0; k < x.size(); ++k) same = same && rt.flat(k) == x.flat(k);  // same order
  CHECK(same);
  CHECK(reshape(reshape(t.tensor(Tensor(3.0)), {1, 1, 1}), {}).shape() == Shape{});
  CHECK(unsqueeze(v, 0).shape() == Shape{1, 2, 3, 4});
  CHECK(unsqueeze(v, -1).shape() == Shape{2, 3, 4, 1});
  CHECK(unsqueeze(v, 2).shape() == Shape{2, 3, 1, 4});
  CHECK((squeeze(unsqueeze(v, 2), -2).tensor() == x));
}

TEST_CASE("the shape ops refuse bad arguments by name, recording nothing", "[shape][errors]") {
  Tape t;
  const Var v = t.tensor(counting({2, 3, 4}));
  const Var m = t.constant(counting_matrix(2, 3));
  const Var scalar = t.tensor(Tensor(1.0));

  CHECK_REFUSED(t, permute(v, {0, 2}), "permute: dims [0, 2] do not list each of the 3 dimensions of [2, 3, 4] once");
  CHECK_REFUSED(t, permute(v, {0, 1, 1}), "permute: dims [0, 1, 1] do not list");
  CHECK_REFUSED(t, permute(v, {0, 1, 3}), "permute: dims [0, 1, 3] do not list");
  CHECK_REFUSED(t, transpose(v, 0, 3), "transpose: dim 3 is out of range for [2, 3, 4] (valid: -3..2)");
  CHECK_REFUSED(t, transpose(v, -4, 0), "transpose: dim -4 is out of range for [2, 3, 4]");

  CHECK_REFUSED(t, reshape(v, {5, -1}), "reshape: cannot view [2, 3, 4] (24 elements) as [5, -1]: no size for -1");
  CHECK_REFUSED(t, reshape(v, {-1, 2, -1}), "reshape: cannot view [2, 3, 4] (24 elements) as [-1, 2, -1]: only one");
  CHECK_REFUSED(t, reshape(v, {4, 7}), "as [4, 7]: that is 28 elements");
  CHECK_REFUSED(t, reshape(v, {-2, -12}), "size -2 is negative");
  CHECK_REFUSED(t, reshape(v, {1, 1, 1, 1, 1, 1, 1, 1, 24}), "reshape: the shape [1, 1, 1, 1, 1, 1, 1, 1, 24] has rank 9");
  CHECK_REFUSED(t, squeeze(v, 1), "squeeze: dim 1 of [2, 3, 4] has size 3, not 1");
  CHECK_REFUSED(t, squeeze(scalar, 0), "squeeze: dim 0 of [], which has no dimension");
  CHECK_REFUSED(t, unsqueeze(v, 4), "unsqueeze: dim 4 is out of range for [2, 3, 4] (valid: -4..3)");
  const Var eight = t.tensor(counting({1, 1, 1, 1, 1, 1, 1, 2}));
  CHECK_REFUSED(t, unsqueeze(eight, 0), "unsqueeze: the result of [1, 1, 1, 1, 1, 1, 1, 2] with a new dimension has rank 9");

  CHECK_REFUSED(t, slice(v, 1, 2, 5), "slice: [2, 5) along dim 1 is not within [2, 3, 4] (0 <= begin <= end <= 3)");
  CHECK_REFUSED(t, slice(v, 1, 2, 1), "slice: [2, 1) along dim 1 is not within [2, 3, 4]");
  CHECK_REFUSED(t, slice(v, 3, 0, 1), "slice: dim 3 is out of range for [2, 3, 4]");
  CHECK_REFUSED(t, narrow(v, 2, 3, 2), "narrow: 2 from 3 along dim 2 is not within [2, 3, 4]");

  const Var w = t.tensor(counting({2, 3, 5}));
  CHECK_REFUSED(t, concat({v, w}, 1), "concat: along dim 1 input 1 is [2, 3, 5], input 0 is [2, 3, 4] (all dimensions but 1 must agree)");
  CHECK_REFUSED(t, concat({v, m}, 0), "concat: input 1 is [2, 3], input 0 is [2, 3, 4] (their ranks must agree)");
  CHECK_REFUSED(t, concat({v, v}, 3), "concat: dim 3 is out of range for [2, 3, 4]");
  CHECK_REFUSED(t, concat({scalar}, 0), "concat: input 0 is a scalar []");
  CHECK_REFUSED(t, stack({v, v, w}, 0), "stack: input 2 is [2, 3, 5], input 0 is [2, 3, 4] (all must have one shape)");
  CHECK_REFUSED(t, stack({v, v}, 4), "stack: dim 4 is out of range for [2, 3, 4] (valid: -4..3)");
  CHECK_REFUSED(t, stack(std::vector<Var>{}, 0), "stack: no inputs");

  CHECK_REFUSED(t, broadcast_to(m, {4, 2, 2}), "broadcast_to: [2, 3] cannot be broadcast to [4, 2, 2]: dim 1 is 3, neither 1 nor 2");
  CHECK_REFUSED(t, broadcast_to(v, {3, 4}), "broadcast_to: [2, 3, 4] cannot be broadcast to [3, 4], which has fewer dimensions");

  CHECK_REFUSED(t, index_select(v, 1, {0, 3}), "index_select: id 3 at position 1 is not within dim 1 of [2, 3, 4] (size 3)");
  CHECK_REFUSED(t, index_select(v, -1, {-1}), "index_select: id -1 at position 0 is not within dim -1 of [2, 3, 4] (size 4)");
  const Var table = t.constant(counting_matrix(5, 4));
  CHECK_REFUSED(t, embedding(table, {0, 1, 2, 3, 5, 0}, {2, 3}),
                "embedding: id 5 at position 4 (1, 1) of ids [2, 3] is not a row of the table [5, 4]");
  CHECK_REFUSED(t, embedding(table, {0, 1, 2, 3, 4}, {2, 3}), "embedding: 5 ids for ids_shape [2, 3], which has 6 positions");
  CHECK_REFUSED(t, embedding(v, {0}, {1}), "embedding: the table must be a matrix [V x d], got [2, 3, 4]");
  // gather_rows points at the op for a table of another rank.
  CHECK_REFUSED(t, gather_rows(v, {0}), "gather_rows: takes a matrix (rank 2), got [2, 3, 4]; for any rank use index_select(a, 0, ids)");
}

TEST_CASE("stack and sub of values on two tapes are refused with nothing recorded on either", "[shape][errors]") {
  // Both are composed (stack unsqueezes each part, sub scales b): the tapes are checked first.
  Tape t, u;
  const Var a = t.tensor(counting({2, 3, 4}));
  const Var b = u.tensor(counting({2, 3, 4}));
  const Var m = t.constant(counting_matrix(2, 3));
  const Var n = u.constant(counting_matrix(2, 3));
  const std::size_t t_size = t.size(), u_size = u.size();
  CHECK_THROWS_AS(stack({a, b}, 0), std::logic_error);
  CHECK_THROWS_AS(sub(a, b), std::logic_error);
  CHECK_THROWS_AS(sub(m, n), std::logic_error);
  CHECK(t.size() == t_size);
  CHECK(u.size() == u_size);
}

TEST_CASE("the 2-D spellings give what they always gave", "[shape]") {
  Tape t;
  const Matrix a = counting_matrix(2, 3), b = counting_matrix(2, 2, 10.0), c = counting_matrix(1, 3, 20.0);
  const Var va = t.constant(a), vb = t.constant(b), vc = t.constant(c);

  // concat of matrices along columns and rows, against the blocks written out by hand.
  const Matrix cols = concat({va, vb}, 1).value();
  const Matrix by_hand_cols{{1.0, 1.25, 1.5, 10.0, 10.25}, {1.75, 2.0, 2.25, 10.5, 10.75}};
  CHECK((cols == by_hand_cols));
  CHECK(concat({va, vb}, 1).shape() == Shape{2, 5});
  const Matrix rows = concat(std::vector{va, vc}, 0).value();
  const Matrix by_hand_rows{{1.0, 1.25, 1.5}, {1.75, 2.0, 2.25}, {20.0, 20.25, 20.5}};
  CHECK((rows == by_hand_rows));
  CHECK((concat({va, vb}, -1).value() == by_hand_cols));  // now also from the end
  // The matrices' own messages, as before.
  CHECK_REFUSED(t, concat({va, vc}, 1), "concat: along axis 1 input 1 is [1 x 3], input 0 is [2 x 3] (their row counts must agree)");
  CHECK_REFUSED(t, concat({va, vb}, 2), "concat: axis must be 0 (over rows) or 1 (over columns), got 2 for [2 x 3]");

  // reshape(a, rows, cols) is still the 2-D overload (its message says [4 x 2]); the braced shape
  // is the new one (its message says [4, 2]); both give the same elements.
  CHECK_REFUSED(t, reshape(va, 4, 2), "reshape: cannot view [2 x 3] (6 elements) as [4 x 2]");
  CHECK_REFUSED(t, reshape(va, {4, 2}), "reshape: cannot view [2, 3] (6 elements) as [4, 2]");
  CHECK((reshape(va, 3, 2).value() == reshape(va, {3, 2}).value()));
  CHECK(reshape(va, 3, 2).shape() == Shape{3, 2});
  CHECK(reshape(t.tensor(counting({2, 3, 4})), 6, 4).shape() == Shape{6, 4});  // to a matrix, as before

  // transpose(a) and its N-D spellings, slice(a, r0, r1, c0, c1) and slices along one dim.
  const Matrix tr{{1.0, 1.75}, {1.25, 2.0}, {1.5, 2.25}};
  CHECK((transpose(va).value() == tr));
  CHECK((transpose(va, 0, 1).value() == tr));
  CHECK((permute(va, {1, 0}).value() == tr));
  CHECK((slice(va, 0, 2, 1, 3).value() == Matrix{{1.25, 1.5}, {2.0, 2.25}}));
  CHECK((slice(slice(va, 1, 1, 3), 0, 0, 2).value() == slice(va, 0, 2, 1, 3).value()));
  CHECK((slice_rows(va, 1, 2).value() == slice(va, 0, 1, 2).value()));
  CHECK((slice_cols(va, 0, 1).value() == slice(va, -1, 0, 1).value()));
  CHECK((index_select(va, 0, {1, 1}).value() == gather_rows(va, {1, 1}).value()));
}
