#include "nn/serialize.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <unistd.h>

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

// True for "layer<digits>_W.npy" and "layer<digits>_b.npy", with the layer number in `layer`.
bool is_param_file(const std::string& name, std::size_t& layer) {
  const std::string head = "layer";
  if (name.size() < head.size() + 7 || name.compare(0, head.size(), head) != 0) return false;
  const std::size_t digits_end = name.find_first_not_of("0123456789", head.size());
  if (digits_end == head.size() || digits_end == std::string::npos || digits_end - head.size() > 9) {
    return false;
  }
  const std::string tail = name.substr(digits_end);
  if (tail != "_W.npy" && tail != "_b.npy") return false;
  layer = std::stoul(name.substr(head.size(), digits_end - head.size()));
  return true;
}

// The input scaling's files (always float64, whatever the model's dtype), present when model.txt
// has the line "input_scaling standardize".
const char* const scaling_mean_name = "input_mean.npy";
const char* const scaling_scale_name = "input_scale.npy";

bool is_model_file(const std::string& name) {
  std::size_t layer = 0;
  return name == manifest_name || is_param_file(name, layer) || name == scaling_mean_name ||
         name == scaling_scale_name;
}

// "nan", "inf" or "-inf" and where, for the first non-finite element of m; empty if all are finite.
template <class T>
std::string first_non_finite(const BasicMatrix<T>& m) {
  for (std::size_t r = 0; r < m.shape(0); ++r) {
    for (std::size_t c = 0; c < m.shape(1); ++c) {
      const double v = static_cast<double>(m(r, c));
      if (!std::isfinite(v)) {
        return "element (" + std::to_string(r) + ", " + std::to_string(c) + ") is " +
               (std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
      }
    }
  }
  return {};
}

// One parameter file, of the dtype model.txt gives, as a matrix of T (rounded if T is narrower).
template <class T>
BasicMatrix<T> load_param(const fs::path& path, std::size_t rows, std::size_t cols,
                          const std::string& dtype) {
  std::string file_dtype;
  BasicMatrix<T> m = load_npy_matrix<T>(path.string(), &file_dtype);
  if (file_dtype != dtype) {
    throw std::runtime_error(path.string() + ": dtype " + file_dtype + ", but model.txt says " +
                             dtype);
  }
  if (m.shape(0) != rows || m.shape(1) != cols) {
    throw std::runtime_error(path.string() + ": shape " + autograd::shape_str(m) +
                             ", but model.txt says [" + std::to_string(rows) + " x " +
                             std::to_string(cols) + "]");
  }
  const std::string bad = first_non_finite(m);
  if (!bad.empty()) {
    const bool rounded = file_dtype != autograd::dtype_name<T>();
    throw std::runtime_error(path.string() + ": " + bad +
                             (rounded ? std::string(" in ") + autograd::dtype_name<T>() +
                                            " (the " + file_dtype + " value does not fit)"
                                      : std::string()) +
                             "; a model's parameters must be finite");
  }
  return m;
}

bool is_dtype(const std::string& name) { return name == "float64" || name == "float32"; }

// The folder a save path names: "exp/", "exp/." and "./exp" all name exp, "." the current folder.
struct Target {
  fs::path dir;     // absolute, without a trailing separator
  fs::path parent;  // the folder dir is in
  std::string name; // dir's last component
};

Target target_of(const std::string& folder) {
  if (folder.empty()) throw std::runtime_error("empty path");
  fs::path dir = fs::absolute(fs::path(folder)).lexically_normal();
  if (!dir.has_filename()) dir = dir.parent_path();
  if (dir == dir.root_path() || dir.filename() == "..") {
    throw std::runtime_error("'" + folder + "' is not a model folder");
  }
  return {dir, dir.parent_path(), dir.filename().string()};
}

// Why `dir` must not be replaced by a model; empty if it may be: it does not exist, is an empty
// folder, or holds a model this program wrote and nothing else.
std::string why_not_replaceable(const fs::path& dir, const std::string& folder) {
  std::error_code ec;
  const fs::file_status status = fs::symlink_status(dir, ec);
  if (status.type() == fs::file_type::not_found) return {};
  const std::string it_is = "'" + folder + "' ";
  if (ec) return it_is + "cannot be examined: " + ec.message();
  if (fs::is_symlink(status)) return it_is + "is a symbolic link, not a model folder";
  if (!fs::is_directory(status)) return it_is + "is a file, not a model folder";
  std::vector<std::string> foreign;
  bool empty = true;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    empty = false;
    const std::string name = it->path().filename().string();
    std::error_code type_ec;
    if (!is_model_file(name) || !fs::is_regular_file(it->symlink_status(type_ec))) {
      foreign.push_back(name);
    }
  }
  if (ec) return it_is + "cannot be listed: " + ec.message();
  if (!foreign.empty()) {
    std::sort(foreign.begin(), foreign.end());
    std::string list;
    for (std::size_t i = 0; i < foreign.size() && i < 3; ++i) {
      list += (i ? ", '" : "'") + foreign[i] + "'";
    }
    if (foreign.size() > 3) list += " and " + std::to_string(foreign.size() - 3) + " more";
    return it_is + "is not a model folder saved by this program: it holds " + list;
  }
  if (empty) return {};
  std::ifstream manifest(dir / manifest_name);
  std::string first;
  if (!manifest || !std::getline(manifest, first) || first != format_line) {
    return it_is + "is not a model folder saved by this program: its " + manifest_name +
           " does not start with '" + format_line + "'";
  }
  return {};
}

// A new folder in `parent` named .NAME.WHAT-<pid>-<random>, created here (so that it cannot be a
// user's folder).
fs::path make_private_folder(const Target& t, const char* what) {
  std::random_device rd;
  std::error_code ec;
  for (int attempt = 0; attempt < 100; ++attempt) {
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, "-%ld-%08x", static_cast<long>(::getpid()),
                  static_cast<unsigned>(rd()));
    const fs::path path = t.parent / ("." + t.name + "." + what + suffix);
    if (fs::create_directory(path, ec)) return path;
    if (ec) {
      throw std::runtime_error("cannot create a folder in '" + t.parent.string() +
                               "': " + ec.message());
    }
  }
  throw std::runtime_error("cannot find a free name for a folder in '" + t.parent.string() + "'");
}

// Checks the target and its parent; creates the parent if missing.
Target prepare_target(const std::string& folder) {
  const Target t = target_of(folder);
  const std::string why = why_not_replaceable(t.dir, folder);
  if (!why.empty()) throw std::runtime_error(why + "; refusing to replace it");
  std::error_code ec;
  fs::create_directories(t.parent, ec);
  if (ec || !fs::is_directory(t.parent)) {
    throw std::runtime_error("cannot create folder '" + t.parent.string() + "'" +
                             (ec ? ": " + ec.message() : ""));
  }
  return t;
}

// Removes the files of a model from a folder this program created, then the folder; anything
// else in it stays.
void remove_model_folder(const fs::path& dir, std::error_code& ec) {
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (is_model_file(it->path().filename().string())) files.push_back(it->path());
  }
  for (const fs::path& f : files) fs::remove(f, ec);
  fs::remove(dir, ec);
}

}  // namespace

void check_save_target(const std::string& folder) {
  try {
    const Target t = prepare_target(folder);
    std::error_code ec;
    fs::remove(make_private_folder(t, "saving"), ec);  // the parent is writable
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot save the model to '" + folder + "': " + e.what());
  }
}

template <class T>
void save_model(const BasicMLP<T>& model, const std::string& folder) {
  const std::string context = "cannot save the model to '" + folder + "': ";
  for (std::size_t i = 0; i < model.layers().size(); ++i) {
    const BasicDense<T>& layer = model.layers()[i];
    for (const auto& [param, what] : {std::pair{&layer.W, "W"}, std::pair{&layer.b, "b"}}) {
      const std::string bad = first_non_finite(param->value);
      if (!bad.empty()) {
        throw std::runtime_error(context + param_file(i, what) + ": " + bad +
                                 " (training diverged?)");
      }
    }
  }
  Target t;
  fs::path staging;
  try {
    t = prepare_target(folder);
    staging = make_private_folder(t, "saving");
  } catch (const std::exception& e) {
    throw std::runtime_error(context + e.what());
  }
  // The whole model is written into the staging folder, which then takes the target's place: a
  // failure at any point leaves the previous model (if any) as it was.
  fs::path previous;
  try {
    for (std::size_t i = 0; i < model.layers().size(); ++i) {
      const BasicDense<T>& layer = model.layers()[i];
      xt::dump_npy((staging / param_file(i, "W")).string(), layer.W.value);
      xt::dump_npy((staging / param_file(i, "b")).string(), layer.b.value);
    }
    if (model.input_scaling()) {
      xt::dump_npy((staging / scaling_mean_name).string(), model.input_scaling()->mean);
      xt::dump_npy((staging / scaling_scale_name).string(), model.input_scaling()->scale);
    }
    std::ofstream out(staging / manifest_name);
    out << format_line << "\nactivation " << to_string(model.activation()) << "\nsizes";
    for (std::size_t s : model.sizes()) out << ' ' << s;
    out << "\ndtype " << autograd::dtype_name<T>() << '\n';
    if (!model.converted_from().empty()) out << "converted_from " << model.converted_from() << '\n';
    if (model.input_scaling()) out << "input_scaling standardize\n";
    out.close();
    if (!out) throw std::runtime_error("writing " + (staging / manifest_name).string() + " failed");
    // Checked again: the folder may have changed while the model trained or was written.
    const std::string why = why_not_replaceable(t.dir, folder);
    if (!why.empty()) throw std::runtime_error(why + "; refusing to replace it");
    if (fs::exists(fs::symlink_status(t.dir))) {
      // Renaming onto a new empty folder of our own replaces it; onto a user's folder it could not.
      previous = make_private_folder(t, "previous");
      fs::rename(t.dir, previous);
    }
    try {
      fs::rename(staging, t.dir);
    } catch (...) {
      std::error_code ec;
      if (!previous.empty()) fs::rename(previous, t.dir, ec);
      throw;
    }
  } catch (const std::exception& e) {
    std::error_code ec;
    if (fs::exists(staging, ec)) fs::remove_all(staging, ec);  // created above, holds only our files
    if (!previous.empty() && fs::exists(previous, ec) && fs::is_empty(previous, ec)) {
      fs::remove(previous, ec);
    }
    throw std::runtime_error(context + e.what());
  }
  if (!previous.empty()) {
    std::error_code ec;
    remove_model_folder(previous, ec);
    if (ec) {
      throw std::runtime_error("saved the model to '" + folder + "', but the model it replaced " +
                               "is left in '" + previous.string() + "': " + ec.message());
    }
  }
}

namespace {

struct Manifest {
  Activation activation = Activation::tanh;
  std::vector<std::size_t> sizes;
  std::string dtype = "float64";
  std::string converted_from;
  bool standardize = false;  // "input_scaling standardize": input_mean.npy and input_scale.npy
};

Manifest read_manifest(const std::string& folder) {
  const fs::path manifest = fs::path(folder) / manifest_name;
  std::ifstream in(manifest);
  if (!in) throw std::runtime_error("cannot open '" + manifest.string() + "'");
  const std::string where = manifest.string() + ": line ";
  Manifest m;
  std::string line;
  if (!std::getline(in, line) || line != format_line) {
    throw std::runtime_error(where + "1: expected '" + format_line + "'");
  }
  std::string key, name;
  if (!std::getline(in, line) || !(std::istringstream(line) >> key >> name) || key != "activation") {
    throw std::runtime_error(where + "2: expected 'activation tanh|sigmoid|relu'");
  }
  try {
    m.activation = parse_activation(name);
  } catch (const std::exception& e) {
    throw std::runtime_error(where + "2: " + e.what());
  }
  std::vector<std::size_t>& sizes = m.sizes;
  if (std::getline(in, line)) {
    std::istringstream fields(line);
    fields >> key;
    long long s = 0;
    while (key == "sizes" && fields >> s && s > 0) {
      if (static_cast<unsigned long long>(s) > max_layer_size) {
        throw std::runtime_error(where + "3: size " + std::to_string(s) + " is above the " +
                                 std::to_string(max_layer_size) + " allowed");
      }
      sizes.push_back(static_cast<std::size_t>(s));
    }
    if (key != "sizes" || !fields.eof() || sizes.size() < 2) sizes.clear();
  }
  if (sizes.empty()) {
    throw std::runtime_error(where + "3: expected 'sizes' and at least two positive integers");
  }
  if (parameter_count(sizes) > max_parameters) {
    throw std::runtime_error(where + "3: sizes give more than the " +
                             std::to_string(max_parameters) + " parameters allowed");
  }
  // Optional lines after the sizes: the parameters' dtype (float64 if absent, as in the files of
  // earlier versions) and the precision they were converted from, if they were.
  std::string& dtype = m.dtype;
  std::string& converted_from = m.converted_from;
  bool seen_dtype = false, seen_converted = false, seen_scaling = false;
  for (int number = 4; std::getline(in, line); ++number) {
    std::istringstream fields(line);
    std::string value, extra;
    fields >> key >> value;
    bool* seen = key == "dtype"            ? &seen_dtype
                 : key == "converted_from" ? &seen_converted
                 : key == "input_scaling"  ? &seen_scaling
                                           : nullptr;
    const bool valid = key == "input_scaling" ? value == "standardize" : is_dtype(value);
    if (seen == nullptr || *seen || !valid || (fields >> extra)) {
      throw std::runtime_error(where + std::to_string(number) +
                               ": expected 'dtype float64|float32', 'converted_from " +
                               "float64|float32' or 'input_scaling standardize', each at most once");
    }
    *seen = true;
    if (key == "input_scaling") {
      m.standardize = true;
    } else {
      (key == "dtype" ? dtype : converted_from) = value;
    }
  }
  return m;
}

}  // namespace

std::string saved_dtype(const std::string& folder) { return read_manifest(folder).dtype; }

template <class T>
BasicMLP<T> load_model(const std::string& folder) {
  const Manifest m = read_manifest(folder);
  const std::vector<std::size_t>& sizes = m.sizes;
  const std::string& dtype = m.dtype;
  const fs::path manifest = fs::path(folder) / manifest_name;
  // A layer file the manifest does not list means the manifest and the weights disagree.
  const std::size_t layer_count = sizes.size() - 1;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    std::size_t layer = 0;
    if (is_param_file(it->path().filename().string(), layer) && layer >= layer_count) {
      throw std::runtime_error(it->path().string() + ": a layer beyond the " +
                               std::to_string(layer_count) + " that " + manifest.string() +
                               " lists");
    }
  }
  std::vector<BasicDense<T>> layers;
  for (std::size_t i = 0; i < layer_count; ++i) {
    BasicMatrix<T> W =
        load_param<T>(fs::path(folder) / param_file(i, "W"), sizes[i], sizes[i + 1], dtype);
    BasicMatrix<T> b = load_param<T>(fs::path(folder) / param_file(i, "b"), 1, sizes[i + 1], dtype);
    layers.emplace_back(std::move(W), std::move(b));
  }
  BasicMLP<T> model(std::move(layers), m.activation);
  const fs::path mean_path = fs::path(folder) / scaling_mean_name;
  const fs::path scale_path = fs::path(folder) / scaling_scale_name;
  if (m.standardize) {
    Standardizer scaling;
    scaling.mean = load_param<double>(mean_path, 1, sizes.front(), "float64");
    scaling.scale = load_param<double>(scale_path, 1, sizes.front(), "float64");
    for (std::size_t c = 0; c < sizes.front(); ++c) {
      if (!(scaling.scale(0, c) > 0.0)) {
        throw std::runtime_error(scale_path.string() + ": element (0, " + std::to_string(c) +
                                 ") is " + std::to_string(scaling.scale(0, c)) +
                                 "; a scale must be > 0");
      }
    }
    model.set_input_scaling(std::move(scaling));
  } else {
    for (const fs::path& p : {mean_path, scale_path}) {
      if (fs::exists(fs::symlink_status(p, ec))) {
        throw std::runtime_error(p.string() + ": an input scaling file, but " + manifest.string() +
                                 " has no 'input_scaling standardize' line");
      }
    }
  }
  // Loaded in another precision: the model says so, and so will its manifest when it is saved.
  model.set_converted_from(dtype != autograd::dtype_name<T>() ? dtype : m.converted_from);
  return model;
}

template void save_model(const BasicMLP<double>&, const std::string&);
template void save_model(const BasicMLP<float>&, const std::string&);
template BasicMLP<double> load_model(const std::string&);
template BasicMLP<float> load_model(const std::string&);

}  // namespace nn
