#include "checks.hpp"

#include <stdexcept>

#include "nn/layers.hpp"
#include "nn/serialize.hpp"
#include "text.hpp"

namespace moons {

std::filesystem::path folder_key(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(path, ec).lexically_normal();
  const std::filesystem::path resolved = std::filesystem::weakly_canonical(p, ec);
  if (!ec) p = resolved;
  if (!p.has_filename()) p = p.parent_path();
  return p;
}

bool within(const std::filesystem::path& inner, const std::filesystem::path& outer) {
  auto i = inner.begin();
  for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
    if (i == inner.end() || *i != *o) return false;
  }
  return true;
}

std::vector<std::size_t> check_run(const Options& o, const std::string& dtype, const DataFacts& data) {
  if (!o.save.empty() && within(folder_key(o.out), folder_key(o.save))) {
    throw std::runtime_error("--out and --save: the pictures' folder '" + o.out +
                             "' would be the model folder '" + o.save + "' or inside it");
  }
  if (!o.load.empty() && !o.save.empty() && folder_key(o.load) == folder_key(o.save)) {
    const std::string saved = nn::saved_dtype(o.load);
    if (saved != dtype) {
      throw std::runtime_error("--save '" + o.save + "' is the --load folder, whose model is " + saved +
                               ": --dtype " + dtype + " would replace its " + saved + " weights by " +
                               dtype + " ones; save the converted model to another folder");
    }
  }
  // classes is the largest label + 1; a model needs at least two labels actually present to learn.
  if (data.labels.size() < 2) {
    throw std::runtime_error(data.name + ": every row has label " +
                             (data.labels.empty() ? std::string("(none: no rows)")
                                                  : std::to_string(*data.labels.begin())) +
                             "; a classifier needs at least 2 classes");
  }
  // Classes are numbered 0..classes-1: a largest label beyond the rows leaves most classes empty.
  if (static_cast<std::size_t>(data.classes) > data.rows) {
    std::string labels;
    std::size_t i = 0;
    for (int label : data.labels) {
      if (i == 5 && data.labels.size() > 6) labels += ", …";
      if (i < 5 || i + 1 == data.labels.size()) labels += (labels.empty() ? "" : ", ") + std::to_string(label);
      ++i;
    }
    throw std::runtime_error(data.name + ": labels " + labels + " make " +
                             std::to_string(data.classes) + " classes (the largest label + 1) for " +
                             std::to_string(data.rows) + " rows, in which " +
                             std::to_string(data.labels.size()) +
                             " labels appear; number the classes 0, 1, 2, … without such a gap");
  }
  if (!o.load.empty()) return {};
  std::vector<std::size_t> sizes{data.columns};
  sizes.insert(sizes.end(), o.hidden.begin(), o.hidden.end());
  sizes.push_back(static_cast<std::size_t>(data.classes));
  if (sizes.front() > nn::max_layer_size) {
    throw std::runtime_error(data.name + ": " + std::to_string(sizes.front()) +
                             " feature columns, more than the " +
                             std::to_string(nn::max_layer_size) + " a network can take");
  }
  if (nn::parameter_count(sizes) > nn::max_parameters) {
    throw std::runtime_error("--hidden " + join(o.hidden, ",") + ": a " + join(sizes, "-") +
                             " network for " + data.name + " has " +
                             std::to_string(nn::parameter_count(sizes)) +
                             " parameters, more than the " + std::to_string(nn::max_parameters) +
                             " allowed");
  }
  return sizes;
}

}  // namespace moons
