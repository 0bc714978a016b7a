#include "nn/serialize.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <xtensor/xnpy.hpp>

namespace nn {

namespace fs = std::filesystem;

namespace {

const char* const manifest_name = "model.txt";
const char* const format_line = "autograd-mlp 1";

std::string param_file(std::size_t layer, const char* what) {
  return "layer" + std::to_string(layer) + "_" + what + ".npy";
}

// Runs write(tmp) and renames tmp to path; on any failure removes tmp and throws naming path.
template <class Write>
void write_atomically(const fs::path& path, Write&& write) {
  const fs::path tmp = path.string() + ".tmp";
  try {
    write(tmp);
    fs::rename(tmp, path);
  } catch (const std::exception& e) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw std::runtime_error("cannot write '" + path.string() + "': " + e.what());
  }
}

Matrix load_param(const fs::path& path, std::size_t rows, std::size_t cols) {
  if (!fs::exists(path)) throw std::runtime_error(path.string() + ": missing");
  Matrix m;
  try {
    m = xt::load_npy<double>(path.string());
  } catch (const std::exception& e) {
    throw std::runtime_error(path.string() + ": not a 2-D float64 .npy file (" + e.what() + ")");
  }
  if (m.shape(0) != rows || m.shape(1) != cols) {
    throw std::runtime_error(path.string() + ": shape " + autograd::shape_str(m) +
                             ", but model.txt says [" + std::to_string(rows) + " x " +
                             std::to_string(cols) + "]");
  }
  return m;
}

}  // namespace

void save_model(const MLP& model, const std::string& folder) {
  const fs::path dir(folder);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create folder '" + folder + "': " + ec.message());
  for (std::size_t i = 0; i < model.layers().size(); ++i) {
    const Dense& layer = model.layers()[i];
    write_atomically(dir / param_file(i, "W"), [&](const fs::path& p) { xt::dump_npy(p.string(), layer.W.value); });
    write_atomically(dir / param_file(i, "b"), [&](const fs::path& p) { xt::dump_npy(p.string(), layer.b.value); });
  }
  // The manifest goes last: a folder with a manifest has all its parameter files.
  write_atomically(dir / manifest_name, [&](const fs::path& p) {
    std::ofstream out(p);
    out << format_line << "\nactivation " << to_string(model.activation()) << "\nsizes";
    for (std::size_t s : model.sizes()) out << ' ' << s;
    out << '\n';
    out.close();
    if (!out) throw std::runtime_error("write failed");
  });
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
