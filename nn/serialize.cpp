#include "nn/serialize.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <xtensor/xnpy.hpp>

#include "nn/data.hpp"

namespace nn {

namespace fs = std::filesystem;

namespace {

const char* const manifest_name = "model.txt";
const char* const format_line = "autograd-mlp 1";

std::string param_file(std::size_t layer, const char* what) {
  return "layer" + std::to_string(layer) + "_" + what + ".npy";
}

Matrix load_param(const fs::path& path, std::size_t rows, std::size_t cols) {
  const Matrix m = load_npy_matrix(path.string());
  if (m.shape(0) != rows || m.shape(1) != cols) {
    throw std::runtime_error(path.string() + ": shape " + autograd::shape_str(m) +
                             ", but model.txt says [" + std::to_string(rows) + " x " +
                             std::to_string(cols) + "]");
  }
  return m;
}

}  // namespace

void save_model(const MLP& model, const std::string& folder) {
  // The whole model is written into a fresh sibling folder, which then replaces `folder` in two
  // renames: a failure at any point leaves the previous model (if any) as it was.
  const fs::path dir = fs::path(folder).lexically_normal();
  const fs::path staging = dir.string() + ".saving";
  const fs::path previous = dir.string() + ".previous";
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);
  if (ec) throw std::runtime_error("cannot create folder '" + staging.string() + "': " + ec.message());
  try {
    for (std::size_t i = 0; i < model.layers().size(); ++i) {
      const Dense& layer = model.layers()[i];
      xt::dump_npy((staging / param_file(i, "W")).string(), layer.W.value);
      xt::dump_npy((staging / param_file(i, "b")).string(), layer.b.value);
    }
    std::ofstream out(staging / manifest_name);
    out << format_line << "\nactivation " << to_string(model.activation()) << "\nsizes";
    for (std::size_t s : model.sizes()) out << ' ' << s;
    out << '\n';
    out.close();
    if (!out) throw std::runtime_error("writing " + (staging / manifest_name).string() + " failed");
    fs::remove_all(previous);
    if (fs::exists(dir)) fs::rename(dir, previous);
    fs::rename(staging, dir);
  } catch (const std::exception& e) {
    if (!fs::exists(dir, ec) && fs::exists(previous, ec)) fs::rename(previous, dir, ec);
    fs::remove_all(staging, ec);
    throw std::runtime_error("cannot save the model to '" + folder + "': " + e.what());
  }
  fs::remove_all(previous, ec);
}

MLP load_model(const std::string& folder) {
  const fs::path manifest = fs::path(folder) / manifest_name;
  std::ifstream in(manifest);
  if (!in) throw std::runtime_error("cannot open '" + manifest.string() + "'");
  const std::string where = manifest.string() + ": line ";
  std::string line;
  if (!std::getline(in, line) || line != format_line) {
    throw std::runtime_error(where + "1: expected '" + format_line + "'");
  }
  std::string key, name;
  if (!std::getline(in, line) || !(std::istringstream(line) >> key >> name) || key != "activation") {
    throw std::runtime_error(where + "2: expected 'activation tanh|sigmoid|relu'");
  }
  Activation activation;
  try {
    activation = parse_activation(name);
  } catch (const std::exception& e) {
    throw std::runtime_error(where + "2: " + e.what());
  }
  std::vector<std::size_t> sizes;
  if (std::getline(in, line)) {
    std::istringstream fields(line);
    fields >> key;
    long long s = 0;
    while (key == "sizes" && fields >> s && s > 0) sizes.push_back(static_cast<std::size_t>(s));
    if (key != "sizes" || !fields.eof() || sizes.size() < 2) sizes.clear();
  }
  if (sizes.empty()) {
    throw std::runtime_error(where + "3: expected 'sizes' and at least two positive integers");
  }
  std::vector<Dense> layers;
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    Matrix W = load_param(fs::path(folder) / param_file(i, "W"), sizes[i], sizes[i + 1]);
    Matrix b = load_param(fs::path(folder) / param_file(i, "b"), 1, sizes[i + 1]);
    layers.emplace_back(std::move(W), std::move(b));
  }
  return MLP(std::move(layers), activation);
}

}  // namespace nn
