// nn::load_model on a folder that holds a real saved model (a 2-3-2 tanh network written by
// nn::save_model) with parts of it replaced by the input: the bytes up to the first NUL become
// model.txt; if a NUL follows, the next byte picks one of layer{0,1,2}_{W,b}.npy and the rest
// becomes that file. Bad input must give a std::exception naming the folder; a model it accepts
// must evaluate to one probability row per input row.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "nn/layers.hpp"
#include "nn/serialize.hpp"

namespace fs = std::filesystem;

namespace {

const char* const param_files[] = {"layer0_W.npy", "layer0_b.npy", "layer1_W.npy",
                                   "layer1_b.npy", "layer2_W.npy", "layer2_b.npy"};

// The saved model's files, name -> bytes.
const std::map<std::string, std::string>& saved_model() {
  static const std::map<std::string, std::string> files = [] {
    const fs::path dir = fuzz::scratch() / "saved";
    nn::save_model(nn::MLP({2, 3, 2}, nn::Activation::tanh, 1), dir.string());
    std::map<std::string, std::string> out;
    for (const auto& entry : fs::directory_iterator(dir)) {
      std::ifstream in(entry.path(), std::ios::binary);
      out[entry.path().filename().string()].assign(std::istreambuf_iterator<char>(in), {});
    }
    return out;
  }();
  return files;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  saved_model();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const fs::path dir = fuzz::scratch() / "model";
  std::error_code ignored;
  fs::remove_all(dir, ignored);
  fs::create_directories(dir);
  for (const auto& [name, contents] : saved_model()) {
    fuzz::write_file(dir / name, contents);
  }
  const std::size_t nul = bytes.find('\0');
  fuzz::write_file(dir / "model.txt", bytes.substr(0, nul));
  if (nul != std::string_view::npos && nul + 1 < bytes.size()) {
    const auto pick = static_cast<unsigned char>(bytes[nul + 1]) % std::size(param_files);
    fuzz::write_file(dir / param_files[pick], bytes.substr(nul + 2));
  }

  const std::string folder = dir.string();
  try {
    nn::MLP model = nn::load_model(folder);
    const std::size_t inputs = model.layers().front().W.value.shape(0);
    const std::size_t classes = model.layers().back().W.value.shape(1);
    const autograd::Matrix P = model.probabilities(xt::zeros<double>({std::size_t{2}, inputs}));
    if (P.shape(0) != 2 || P.shape(1) != classes) {
      fuzz::finding("a loaded model gives probabilities of shape " + autograd::shape_str(P));
    }
  } catch (const std::exception& e) {
    fuzz::check_error(e, folder);
  }
  return 0;
}
