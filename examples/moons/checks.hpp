#pragma once
// The moons program's checks of its flags and data before training, one function for one process
// and for mpirun alike, so that both refuse the same runs with the same messages.
#include <cstddef>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "options.hpp"

namespace moons {

// What the checks need to know of the data: of one process's rows, or of all ranks' together.
struct DataFacts {
  std::string name;         // "'file.csv'" or "the generated data", as messages name the data
  std::size_t rows = 0;
  std::size_t columns = 0;  // feature columns
  int classes = 0;          // the largest label + 1
  std::set<int> labels;     // the labels present
};

// Refuses, with std::runtime_error naming the flag or the data, what would fail or be lost only
// after training: --out inside the --save folder, --save over the --load folder in another
// precision (--dtype), data of fewer than two labels or of more classes than rows (labels 0 and
// 99999 on 10 rows: a network of 100000 outputs, whose picture takes minutes), a network for
// --hidden over the limits.
// dtype is the precision the run uses. Returns the new network's layer sizes (features, --hidden,
// classes), or none with --load.
std::vector<std::size_t> check_run(const Options& o, const std::string& dtype, const DataFacts& data);

// A path as one folder, for comparing two flags' folders: absolute, symbolic links resolved as far
// as the path exists, no trailing separator. A path that cannot be resolved (such as /dev/stdout
// when it is a pipe) is taken as written.
std::filesystem::path folder_key(const std::string& path);

// True if `inner` is `outer` or inside it.
bool within(const std::filesystem::path& inner, const std::filesystem::path& outer);

}  // namespace moons
