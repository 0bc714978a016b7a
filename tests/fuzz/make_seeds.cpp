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

#include <xtensor/xnpy.hpp>
#include <xtensor/xtensor.hpp>

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
  return 0;
}
