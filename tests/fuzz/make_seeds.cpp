// Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/): a few valid inputs,
// made by the project's own writers (xt::dump_npy, nn::save_model) so that they stay in the format
// the loaders are meant to read, and a few broken ones near them. Not run by tests/fuzz/run; run
// it by hand after a format change:  fuzz_make_seeds tests/fuzz/corpus
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <xtensor/xnpy.hpp>
#include <xtensor/xtensor.hpp>

#include "fuzz_api_program.hpp"
#include "nn/layers.hpp"
#include "nn/serialize.hpp"

namespace fs = std::filesystem;

namespace {

fs::path root;

void seed(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(root / target);
  std::ofstream(root / target / name, std::ios::binary) << bytes;
}

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A .npy file with a header of our own making, padded like numpy's so that the data starts at a
// multiple of 64 bytes, at least `min_header` bytes long; format 1.0 or 2.0.
std::string npy(const std::string& dict, const std::string& data, std::size_t min_header = 0,
                int major = 1) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  while (header.size() + 1 < min_header || (prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  for (std::size_t i = 0; i < prefix - 8; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

// A fuzz_api program, written call by call (fuzz_api_program.hpp has the encoding). The
// parameters start as p0 [2 x 3], p1 [3 x 2], p2 [1 x 3]; operands count back from the newest
// value (0 = the newest).
class Api {
 public:
  using I = fuzz_api::Instruction;
  using Op = fuzz_api::OpCode;
  explicit Api(std::uint8_t value_seed = 0) { byte(value_seed); }
  const std::string& bytes() const { return bytes_; }

  Api& param(int tape, int slot) { return ins(I::record_param).byte(tape).byte(slot); }
  Api& constant(int tape, std::size_t rows, std::size_t cols, double fill) {
    ins(I::record_constant).byte(tape).dim(rows).dim(cols);
    return values(rows * cols, fill);
  }
  Api& op(Op op, int a, int b = -1) {
    ins(I::op).byte(static_cast<int>(op)).byte(a);
    return b >= 0 ? byte(b) : *this;
  }
  Api& scale(int a, double factor) {
    return op(Op::scale, a).byte(static_cast<int>(factor * 32.0 + 128.0));
  }
  // spec: 0 sum, 1 mean, 0xF2 one label too many, 0xF0 one too few; labels >= 0xF0 out of range
  Api& cross_entropy(int a, int spec, const std::vector<int>& labels) {
    op(Op::cross_entropy, a).byte(spec);
    for (int label : labels) byte(label);
    return *this;
  }
  Api& backward(int loss, bool other_tape = false) {
    return ins(I::backward).byte(loss).byte(other_tape ? 0xFF : 0);
  }
  Api& clear(int tape) { return ins(I::clear).byte(tape); }
  Api& nograd(int tape) { return ins(I::nograd_open).byte(tape); }
  Api& end_nograd() { return ins(I::nograd_close); }
  Api& set_value(int slot, std::size_t count, double fill) {
    return ins(I::set_value).byte(slot).values(count, fill);
  }
  Api& reshape(int slot, std::size_t rows, std::size_t cols, double fill) {
    ins(I::reshape).byte(slot).dim(rows).dim(cols);
    return values(rows * cols, fill);
  }
  Api& grow(std::size_t rows, std::size_t cols, double fill) {
    ins(I::grow).byte(0).dim(rows).dim(cols);
    return values(rows * cols, fill);
  }
  Api& grow_copy(int slot) { return ins(I::grow).byte(0x80).byte(slot); }
  Api& drop() { return ins(I::drop); }
  Api& swap(int i, int j) { return ins(I::swap).byte(i).byte(j); }
  Api& copy_assign(int i, int j) { return ins(I::copy_assign).byte(i).byte(j); }
  Api& zero_grad(int slot) { return ins(I::zero_grad).byte(slot); }
  Api& new_tape(int tape) { return ins(I::new_tape).byte(tape); }
  Api& read_grad(int v) { return ins(I::read_grad).byte(v); }
  Api& check() { return ins(I::check); }
  // One argument byte as it is (the ops of any rank: dims, lists, counts).
  Api& byte(int b) {
    bytes_ += static_cast<char>(b);
    return *this;
  }

 private:
  Api& ins(I i) { return byte(fuzz_api::encode(i)); }
  Api& dim(std::size_t d) { return byte(fuzz_api::encode_dim(d)); }
  // count values from fill, each the next one up by 3/64 so that no two are equal
  Api& values(std::size_t count, double fill) {
    for (std::size_t i = 0; i < count; ++i) byte(fuzz_api::encode_value(fill + 3.0 * i / 64.0));
    return *this;
  }
  std::string bytes_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_FOLDER\n", argv[0]);
    return 2;
  }
  root = argv[1];

  seed("csv", "header", "x0,x1,label\n0.5,-1.25,0\n1e-3,2,1\n3,4,2\n");
  seed("csv", "crlf-blank-bom", "\xEF\xBB\xBF" "a, b ,label\r\n\r\n 1 , 2 , 1 \r\n3,4,0\r\n\n");
  seed("csv", "ragged", "x0,x1,label\n0.1,0.2,0\n0.3,1\n");
  seed("csv", "not-numbers", "1,x,0\n1,2,1\n1.5x,inf,nan\n,,\n");
  seed("csv", "labels", "1,2,2.5\n1,2,-1\n1,2,2147483647\n1,2,1e300\n");
  // pandas' to_csv: default column names, then its index column under an empty name.
  seed("csv", "pandas-names", "0,1,2\n0.5,1.5,1\n2.5,3.5,0\n");
  seed("csv", "pandas-index", ",0,1,2\n0,0.5,1.5,1\n1,2.5,3.5,0\nx,1,1,1\n");

  const xt::xtensor<double, 2> X = {{0.5, -1.0}, {2.0, 3.5}, {-0.25, 1e-3}};
  const xt::xtensor<double, 2, xt::layout_type::column_major> F = X;
  const std::string x8 = xt::dump_npy(X);
  const std::string y8 = xt::dump_npy(xt::xtensor<std::int64_t, 1>{0, 1, 2});
  const std::string y4 = xt::dump_npy(xt::xtensor<std::int32_t, 1>{1, 0, 1});
  seed("npy", "f8-i8", x8 + y8);
  seed("npy", "fortran-i4", xt::dump_npy(F) + y4);
  seed("npy", "truncated", x8.substr(0, x8.size() - 8) + y8);
  seed("npy", "f4-2d-labels", xt::dump_npy(xt::xtensor<float, 2>{{1.0f, 2.0f}}) +
                                  xt::dump_npy(xt::xtensor<std::int64_t, 2>{{0}, {1}}));
  seed("npy", "negative-label", x8 + xt::dump_npy(xt::xtensor<std::int64_t, 1>{0, -1, 1}));
  const std::string f8_2x2 = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }";
  const std::string four(32, '\x3f');  // four doubles of 0.4921875
  const std::string y2 = xt::dump_npy(xt::xtensor<std::int64_t, 1>{1, 0});
  seed("npy", "format-2.0", npy(f8_2x2, four, 0, 2) + y2);
  seed("npy", "header-length-182", npy(f8_2x2, four, 182) + y2);  // 0xb6: a byte >= 0x80
  seed("npy", "wrapping-shape",
       npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", "") + y8);
  seed("npy", "negative-shape",
       npy("{'descr': '<f8', 'fortran_order': False, 'shape': (-1, -1), }", four.substr(0, 8)) + y8);
  seed("npy", "big-shape",
       npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000, 1000000000000), }",
           std::string(16, '\0')) +
           y8);
  // Arrays of other ranks and dtypes (nn::load_npy_array): a 3-D Fortran-order uint8 array with
  // 1-D int8 labels, a 0-D bool with big-endian labels, a 4-D int16 with float64 NaN labels.
  seed("npy", "u1-3d-fortran",
       npy("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 1, 3), }",
           "\x01\x02\x03\x04\x05\x06") +
           npy("{'descr': '|i1', 'fortran_order': False, 'shape': (2,), }",
               std::string("\x00\x01", 2)));
  seed("npy", "b1-0d-big-endian",
       npy("{'descr': '|b1', 'fortran_order': False, 'shape': (), }", "\x01") +
           npy("{'descr': '>i8', 'fortran_order': False, 'shape': (1,), }", std::string(8, '\0')));
  seed("npy", "i2-4d-f8-nan",
       npy("{'descr': '<i2', 'fortran_order': False, 'shape': (1, 2, 1, 1), }",
           std::string("\x05\x00\xff\xff", 4)) +
           npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }",
               std::string("\x00\x00\x00\x00\x00\x00\xf8\x7f", 8)));

  const fs::path model = root / ".model";
  nn::save_model(nn::MLP({2, 3, 2}, nn::Activation::tanh, 1), model.string());
  const std::string manifest = read(model / "model.txt");
  seed("model", "saved", manifest);
  seed("model", "relu-3-layers", "autograd-mlp 1\nactivation relu\nsizes 2 3 3 2\n");
  seed("model", "huge-sizes", "autograd-mlp 1\nactivation tanh\nsizes 2 100000000000 2\n");
  seed("model", "bad-activation", "autograd-mlp 1\nactivation softplus\nsizes 2 3 2\n");
  const char* params[] = {"layer0_W.npy", "layer0_b.npy", "layer1_W.npy", "layer1_b.npy"};
  for (int i = 0; i < 4; ++i) {
    seed("model", std::string("saved-") + params[i],
         manifest + std::string(1, '\0') + static_cast<char>(i) + read(model / params[i]));
  }
  fs::remove_all(model);

  seed("cli", "walkthrough", "--passes\n300\n--sweep\n1,3\n--out\nwalk");
  seed("cli", "exercise", "--hidden=8,8\n--activation=relu\n--classes=3\n--batch-size=32\n"
                          "--optimizer=adam\n--rate=0.01\n--schedule=step\n--decay=0.5\n"
                          "--decay-every=100\n--reg=0\n--samples=300\n--noise=0.1\n--seed=7\n"
                          "--log-every=0\n--save=m\n--data=d.csv\n--load=m");
  seed("cli", "bad-values", std::string("--rate\0abc\0--hidden\0" "3,,2\0--passes", 31));
  seed("cli", "npy-data", "--data\nX.npy\n--labels\ny.npy\n--labels=z.npy");
  seed("cli", "rate-zero", "--rate=0.00");  // once rejected with the range [0.000000, 1000.000000]
  seed("cli", "help-unknown", "-h\n--help\n--bogus=1\nstray");
  seed("cli", "split-scaling", "--test-fraction=0.3\n--split-seed\n9\n--write-split=s.csv\n"
                               "--standardize\n--loss-reduction=mean\n--samples\n100");
  seed("cli", "refused-pairs", "--data=d.csv\n--classes=3\n--load\nm\n--hidden\n4");

  using Op = fuzz_api::OpCode;
  // A small net: tanh(p0 + p2) · p1, cross-entropy, backward; then the same with other values.
  for (int value_seed : {0, 1, 2}) {
    seed("api", "mlp-step-" + std::to_string(value_seed),
         Api(value_seed).param(0, 0).param(0, 2).op(Op::add, 1, 0).op(Op::tanh, 0).param(0, 1)
             .op(Op::matmul, 1, 0).cross_entropy(0, 1, {0, 1}).backward(0).read_grad(1).check()
             .bytes());
  }
  seed("api", "elementwise-chain",
       Api(3).param(0, 0).op(Op::sigmoid, 0).op(Op::exp, 0).op(Op::log, 0).scale(0, -1.5)
           .constant(0, 1, 3, 0.25).op(Op::sub, 1, 0).op(Op::mul, 0, 5).op(Op::softmax, 0)
           .op(Op::mean, 0).backward(0).check().bytes());
  seed("api", "relu-l2-sum",
       Api(4).param(0, 1).op(Op::relu, 0).op(Op::l2_penalty, 0).param(0, 1).op(Op::sum, 0)
           .op(Op::add, 2, 0).backward(0).zero_grad(1).clear(0).param(0, 1)
           .op(Op::l2_penalty, 0).backward(0).check().bytes());
  seed("api", "clear-inside-nograd",
       Api().param(0, 0).nograd(0).op(Op::tanh, 0).clear(0).end_nograd().check().param(0, 0)
           .op(Op::sum, 0).backward(0).op(Op::tanh, 3).check().bytes());
  seed("api", "nested-nograd",
       Api().param(0, 0).nograd(0).param(0, 1).nograd(1).op(Op::matmul, 1, 0).end_nograd()
           .op(Op::sum, 0).backward(0).end_nograd().check().backward(4).bytes());
  seed("api", "backward-inside-nograd",
       Api().param(0, 2).op(Op::l2_penalty, 0).nograd(0).backward(0).op(Op::tanh, 2)
           .read_grad(0).read_grad(1).end_nograd().check().bytes());
  seed("api", "backward-on-parameter",
       Api().grow(1, 1, 0.5).param(0, 3).backward(0).read_grad(0).backward(0).zero_grad(3).clear(0)
           .param(0, 3).backward(0).check().bytes());
  seed("api", "reshaped-between-forward-and-backward",
       Api().param(0, 0).op(Op::l2_penalty, 0).reshape(0, 3, 3, -1.0).backward(0).check()
           .reshape(0, 2, 3, 0.5).backward(0).param(0, 0).check().bytes());
  seed("api", "set-value-between-forward-and-backward",
       Api().param(0, 1).op(Op::tanh, 0).op(Op::sum, 0).set_value(1, 6, -0.75).backward(0)
           .check().bytes());
  seed("api", "var-after-tape-destroyed",
       Api().param(1, 1).op(Op::sum, 0).new_tape(1).check().op(Op::tanh, 0).backward(0)
           .read_grad(1).param(1, 1).op(Op::add, 0, 2).bytes());
  seed("api", "nograd-open-when-tape-destroyed",
       Api().param(0, 0).nograd(0).nograd(1).param(0, 1).new_tape(0).check().end_nograd()
           .bytes());
  seed("api", "parameters-moved-by-growing-vector",
       Api(5).param(0, 0).param(0, 1).op(Op::matmul, 1, 0).op(Op::mean, 0).grow(2, 2, 0.0)
           .grow_copy(0).swap(0, 1).backward(0).check().bytes());
  seed("api", "parameters-swapped",
       Api(6).param(0, 2).param(0, 0).op(Op::mul, 1, 0).op(Op::sum, 0).swap(2, 0).check()
           .backward(0).swap(0, 0).check().bytes());
  seed("api", "copy-assigned-parameter",
       Api(7).param(0, 0).op(Op::tanh, 0).copy_assign(0, 1).check().op(Op::sum, 1).backward(0)
           .bytes());
  seed("api", "destroyed-parameter",
       Api().grow(2, 3, -1.0).param(0, 3).op(Op::mul, 0, 0).op(Op::sum, 0).drop().backward(0)
           .check().op(Op::tanh, 2).bytes());
  seed("api", "two-tapes",
       Api().param(0, 0).param(1, 2).op(Op::add, 1, 0).op(Op::sum, 1).backward(0, true)
           .backward(0).clear(1).check().bytes());
  seed("api", "shape-mismatches",
       Api().param(0, 0).op(Op::matmul, 0, 0).param(0, 1).op(Op::add, 1, 0)
           .cross_entropy(1, 0xF2, {0, 1, 0}).cross_entropy(1, 0, {0, 0xF1})
           .cross_entropy(0, 0, {0, 1, 1}).backward(0).backward(1).check().bytes());
  seed("api", "empty-matrices",
       Api().reshape(2, 0, 3, 0.0).param(0, 2).op(Op::mean, 0).op(Op::sum, 1).param(0, 0)
           .op(Op::matmul, 2, 0).reshape(1, 2, 0, 0.0).param(0, 1).op(Op::softmax, 0)
           .op(Op::matmul, 0, 3).op(Op::sum, 0).backward(0).check().bytes());
  seed("api", "accumulate-then-zero",
       Api(8).param(0, 2).op(Op::l2_penalty, 0).backward(0).clear(0).param(0, 2)
           .op(Op::l2_penalty, 0).backward(0).zero_grad(2).clear(0).param(0, 2)
           .op(Op::exp, 0).op(Op::sum, 0).backward(0).check().bytes());
  // The ops of any rank (arguments as fuzz_api_program.hpp decodes them: a dim byte is dim + 6, a
  // list a count byte and its entries). p0 [2, 3] to [1, 2, 3], permuted to [3, 1, 2], a leading 1,
  // softmax along dim 1, summed over dims 1 and -1 keeping them: [1, 1, 1, 1].
  seed("api", "shapes-any-rank",
       Api(9).param(0, 0).op(Op::reshape_nd, 0).byte(3).byte(0).byte(1).byte(0xFF)
           .op(Op::permute, 0).byte(3).byte(8).byte(6).byte(7).op(Op::unsqueeze, 0).byte(6)
           .op(Op::softmax_dim, 0).byte(7).op(Op::sum_dims, 0).byte(2).byte(7).byte(5).byte(1)
           .backward(0).check().bytes());
  // p0 twice stacked along -1 ([2, 3, 2]), joined with itself along 0 ([4, 3, 2]), sliced, narrowed,
  // transposed, picked by index_select; p2 [1, 3] masks p0 with -inf before a softmax along dim 0;
  // the cross-entropy over the last axis with ignore_index 0 and no reduction, then a mean.
  seed("api", "joins-any-rank",
       Api(10).param(0, 0).param(0, 0).op(Op::stack, 0).byte(1).byte(1).byte(5)
           .op(Op::cat, 0).byte(1).byte(0).byte(6).op(Op::slice_dim, 0).byte(6).byte(1).byte(3)
           .op(Op::narrow, 0).byte(7).byte(1).byte(2).op(Op::transpose_dims, 0).byte(6).byte(5)
           .op(Op::index_select, 0).byte(5).byte(3).byte(0).byte(1).byte(0)
           .op(Op::mean_dims, 0).byte(1).byte(6).byte(0).param(0, 2).param(0, 0)
           .op(Op::masked_fill, 0, 1).byte(0xFF).op(Op::softmax_dim, 0).byte(6)
           .op(Op::cross_entropy_nd, 0).byte(2).byte(2).byte(0).byte(0).byte(0xE0)
           .op(Op::mean, 0).backward(0).check().bytes());
  // Refusals: 9 sizes, a repeated dim, a dim far out of range, a squeeze of a 3, no dims to sum,
  // a broadcast to fewer dimensions, an id out of range, a label out of range, a softmax along a
  // dim that is entirely −inf, a stack of two shapes; then a valid op, which must still work.
  seed("api", "refusals-any-rank",
       Api().param(0, 0).op(Op::reshape_nd, 0).byte(0xFF).byte(0).byte(0).byte(0).byte(0).byte(0)
           .byte(0).byte(0).byte(0).byte(5).op(Op::permute, 0).byte(2).byte(6).byte(6)
           .op(Op::transpose_dims, 0).byte(0xFF).byte(6).op(Op::squeeze, 0).byte(7)
           .op(Op::sum_dims, 0).byte(0).byte(0).op(Op::broadcast_to, 0).byte(1).byte(2)
           .op(Op::index_select, 0).byte(7).byte(1).byte(0xF0)
           .op(Op::cross_entropy_nd, 0).byte(1).byte(0xFF).byte(0).byte(0xF0).byte(0)
           .param(0, 0).op(Op::masked_fill, 1, 0).byte(0xFF).op(Op::softmax_dim, 0).byte(6)
           .param(0, 1).op(Op::stack, 0).byte(1).byte(2).byte(6)
           .op(Op::unsqueeze, 0).byte(6).op(Op::sum, 0).backward(0).check().bytes());
  return 0;
}
