#include "nn/serialize.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "autograd/durable.hpp"

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
  // Gone since it was listed: another save moved it away, and nothing is there to refuse.
  if (!manifest && !fs::exists(fs::symlink_status(dir, ec))) return {};
  if (!manifest || !std::getline(manifest, first) || first != format_line) {
    return it_is + "is not a model folder saved by this program: its " + manifest_name +
           " does not start with '" + format_line + "'";
  }
  return {};
}

// The hidden folders of a save beside model folder NAME: .NAME.saving-SUFFIX (the new model being
// written; after an exchange, the old one being removed) and .NAME.previous-SUFFIX (the old model,
// moved aside where the filesystem cannot exchange), SUFFIX being make_temporary_folder's 16
// hexadecimal digits. A user's folder of another name is never touched.
std::string saving_prefix(const Target& t) { return "." + t.name + ".saving-"; }
std::string previous_prefix(const Target& t) { return "." + t.name + ".previous-"; }

bool has_prefix_and_suffix(const std::string& name, const std::string& prefix) {
  return name.size() == prefix.size() + 16 && name.compare(0, prefix.size(), prefix) == 0 &&
         name.find_first_not_of("0123456789abcdef", prefix.size()) == std::string::npos;
}

struct Leftovers {
  std::vector<fs::path> saving, previous;
  bool empty() const { return saving.empty() && previous.empty(); }
};

Leftovers find_leftovers(const Target& t) {
  Leftovers found;
  std::error_code ec;
  for (fs::directory_iterator it(t.parent, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::error_code type_ec;
    if (!fs::is_directory(it->symlink_status(type_ec))) continue;
    if (has_prefix_and_suffix(name, saving_prefix(t))) found.saving.push_back(it->path());
    if (has_prefix_and_suffix(name, previous_prefix(t))) found.previous.push_back(it->path());
  }
  std::sort(found.saving.begin(), found.saving.end());
  std::sort(found.previous.begin(), found.previous.end());
  return found;
}

// The lock that serialises saves (and recoveries) of one model folder: .NAME.lock beside it.
std::string lock_path(const Target& t) { return (t.parent / ("." + t.name + ".lock")).string(); }

// Why `dir`, an existing folder, is a mount point (which no rename can replace); empty if not.
std::string mount_point_problem(const fs::path& dir, const fs::path& parent, const std::string& folder) {
  struct stat here {}, above {};
  if (::stat(dir.c_str(), &here) != 0 || ::stat(parent.c_str(), &above) != 0) return {};
  bool mounted = here.st_dev != above.st_dev;
#ifdef STATX_MNT_ID
  // A bind mount of a folder of the same filesystem has the same device: compare mount ids.
  struct statx sx_here {}, sx_above {};
  if (!mounted && ::statx(AT_FDCWD, dir.c_str(), 0, STATX_MNT_ID, &sx_here) == 0 &&
      ::statx(AT_FDCWD, parent.c_str(), 0, STATX_MNT_ID, &sx_above) == 0 &&
      (sx_here.stx_mask & sx_above.stx_mask & STATX_MNT_ID) != 0) {
    mounted = sx_here.stx_mnt_id != sx_above.stx_mnt_id;
  }
#endif
  if (!mounted) return {};
  return "'" + folder + "' is a mount point, which a save cannot replace (it swaps in a new " +
         "folder); save into a folder inside it";
}

// Checks the target and its parent; creates the parent if missing.
Target prepare_target(const std::string& folder) {
  const Target t = target_of(folder);
  std::error_code ec;
  if (fs::is_directory(fs::symlink_status(t.dir, ec))) {
    const std::string mounted = mount_point_problem(t.dir, t.parent, folder);
    if (!mounted.empty()) throw std::runtime_error(mounted);
  }
  const std::string why = why_not_replaceable(t.dir, folder);
  if (!why.empty()) throw std::runtime_error(why + "; refusing to replace it");
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

// True if `dir` holds a whole model (load_model reads and checks every file).
bool holds_whole_model(const fs::path& dir) {
  try {
    load_model<double>(dir.string());
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

// What an interrupted save left beside `t`, put right; with the lock held. A missing model folder
// is restored from the old model an interrupted save had moved aside; every other folder of a save
// is removed. Returns what was done, empty if nothing.
std::string recover_locked(const Target& t) {
  Leftovers left = find_leftovers(t);
  if (left.empty()) return {};
  std::string said;
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(t.dir, ec))) {
    // The old model moved aside, or else (a first save) a whole new one that was not moved in.
    for (auto* list : {&left.previous, &left.saving}) {
      for (auto it = list->begin(); said.empty() && it != list->end(); ++it) {
        if (!holds_whole_model(*it)) continue;
        fs::rename(*it, t.dir, ec);
        if (ec) {
          throw std::runtime_error("cannot restore the model in '" + it->string() + "' to '" +
                                   t.dir.string() + "': " + ec.message());
        }
        autograd::sync_folder(t.parent.string());
        said = "restored the model in '" + t.dir.string() + "' from '" + it->string() +
               "', left there by a save that did not finish";
        list->erase(it);
        break;
      }
    }
  }
  std::size_t removed = 0;
  for (const auto* list : {&left.saving, &left.previous}) {
    for (const fs::path& dir : *list) {
      remove_model_folder(dir, ec);
      if (fs::exists(fs::symlink_status(dir, ec))) {
        said += std::string(said.empty() ? "" : "; ") + "left '" + dir.string() +
                "': it holds files that are not a model's";
      } else {
        ++removed;
      }
    }
  }
  if (removed > 0) {
    said += std::string(said.empty() ? "" : "; ") + "removed " + std::to_string(removed) +
            " folder" + (removed > 1 ? "s" : "") + " left beside '" + t.dir.string() +
            "' by a save that did not finish";
  }
  return said;
}

}  // namespace

void check_save_target(const std::string& folder) {
  try {
    const Target t = prepare_target(folder);
    // The parent is writable: a folder can be created there.
    const std::string probe =
        autograd::make_temporary_folder(t.parent.string(), "." + t.name + ".check-");
    std::error_code ec;
    fs::remove(probe, ec);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot save the model to '" + folder + "': " + e.what());
  }
}

std::string recover_model_folder(const std::string& folder) {
  Target t;
  try {
    t = target_of(folder);
  } catch (const std::exception&) {
    return {};
  }
  std::error_code ec;
  if (!fs::is_directory(t.parent, ec)) return {};
  if (find_leftovers(t).empty()) {
    // A lock file left by a killed save: taken and released (which removes it), never removed
    // while another save may hold it.
    if (fs::exists(fs::symlink_status(lock_path(t), ec))) {
      try {
        const autograd::ExclusiveLock lock(lock_path(t));
      } catch (const std::exception&) {
      }
    }
    return {};
  }
  const autograd::ExclusiveLock lock(lock_path(t));
  return recover_locked(t);
}

template <class T>
void save_model(const BasicMLP<T>& model, const std::string& folder) {
  using autograd::detail::step;
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
  // The files, in the order they are written; model.txt last.
  std::vector<std::pair<std::string, std::string>> files;
  for (std::size_t i = 0; i < model.layers().size(); ++i) {
    const BasicDense<T>& layer = model.layers()[i];
    files.emplace_back(param_file(i, "W"), xt::dump_npy(layer.W.value));
    files.emplace_back(param_file(i, "b"), xt::dump_npy(layer.b.value));
  }
  if (model.input_scaling()) {
    files.emplace_back(scaling_mean_name, xt::dump_npy(model.input_scaling()->mean));
    files.emplace_back(scaling_scale_name, xt::dump_npy(model.input_scaling()->scale));
  }
  std::ostringstream manifest;
  manifest << format_line << "\nactivation " << to_string(model.activation()) << "\nsizes";
  for (std::size_t s : model.sizes()) manifest << ' ' << s;
  manifest << "\ndtype " << autograd::dtype_name<T>() << '\n';
  if (!model.converted_from().empty()) manifest << "converted_from " << model.converted_from() << '\n';
  if (model.input_scaling()) manifest << "input_scaling standardize\n";
  files.emplace_back(manifest_name, manifest.str());

  // The steps, each a point where a crash leaves the old model or the new one in `folder` (or the
  // old one in a .NAME.previous- folder, which the next save or recover_model_folder restores):
  // the lock; leftovers of an earlier save put right; the staging folder; each file written and
  // fsynced; the staging folder fsynced; the exchange (or two renames) and the parent fsynced;
  // the old model removed.
  Target t;
  fs::path staging, old;
  try {
    t = target_of(folder);
    std::error_code created;
    fs::create_directories(t.parent, created);
    if (created) prepare_target(folder);  // throws, naming what is in the way
    const autograd::ExclusiveLock lock(lock_path(t));
    step("locked");
    recover_locked(t);
    step("recovered");
    // Checked under the lock: the folder may have changed while the model trained.
    t = prepare_target(folder);
    staging = autograd::make_temporary_folder(t.parent.string(), saving_prefix(t));
    step("staging folder created");
    for (const auto& [name, bytes] : files) {
      autograd::write_new_file((staging / name).string(), bytes);
      step(name.c_str());
    }
    autograd::sync_folder(staging.string());
    step("staging folder synced");
    const std::string parent = t.parent.string();
    if (!fs::exists(fs::symlink_status(t.dir))) {
      fs::rename(staging, t.dir);
      staging.clear();
      autograd::sync_folder(parent);
      step("moved in, parent synced");
    } else if (autograd::exchange_paths(staging.string(), t.dir.string())) {
      old = staging;  // now holds the old model
      staging.clear();
      step("exchanged");
      autograd::sync_folder(parent);
      step("parent synced");
    } else {
      // Two renames, the old model moved aside first: a crash between them leaves it in
      // .NAME.previous-…, from where the next save or recover_model_folder restores it.
      const fs::path previous = autograd::make_temporary_folder(parent, previous_prefix(t));
      step("previous folder created");
      fs::rename(t.dir, previous);  // onto the new empty folder: replaces it
      old = previous;
      step("old model moved aside");
      try {
        fs::rename(staging, t.dir);
      } catch (...) {
        std::error_code ec;
        fs::rename(previous, t.dir, ec);
        old.clear();
        throw;
      }
      staging.clear();
      step("new model moved in");
      autograd::sync_folder(parent);
      step("parent synced");
    }
    if (!old.empty()) {
      std::error_code ec;
      remove_model_folder(old, ec);
      if (ec) {
        throw std::runtime_error("the model is saved, but the model it replaced is left in '" +
                                 old.string() + "': " + ec.message());
      }
      old.clear();
      step("old model removed");
    }
  } catch (const std::exception& e) {
    std::error_code ec;
    if (!staging.empty()) remove_model_folder(staging, ec);  // created above: only our files
    if (!old.empty() && fs::is_empty(old, ec)) fs::remove(old, ec);
    throw std::runtime_error(context + e.what());
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
  if (!in) {
    std::string where;
    try {
      const Target t = target_of(folder);
      std::error_code ec;
      if (!fs::exists(fs::symlink_status(t.dir, ec))) {
        const Leftovers left = find_leftovers(t);
        for (const auto* list : {&left.previous, &left.saving}) {
          for (const fs::path& dir : *list) where += (where.empty() ? "'" : ", '") + dir.string() + "'";
        }
      }
    } catch (const std::exception&) {
    }
    if (!where.empty()) {
      throw std::runtime_error("no model in '" + folder + "': a save that did not finish left " +
                               "one in " + where + " (nn::recover_model_folder, or moons " +
                               "--load, puts it back)");
    }
    throw std::runtime_error("cannot open '" + manifest.string() + "'");
  }
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
