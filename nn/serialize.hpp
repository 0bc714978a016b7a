#pragma once
// A trained model on disk: a folder with model.txt (the architecture) and one .npy per parameter
// (layer0_W.npy, layer0_b.npy, …), float64, readable by numpy.load.
#include <string>

#include "nn/layers.hpp"

namespace nn {

// Writes every file under a temporary name and renames it into place, so that a failed save leaves
// no half-written file. Creates the folder if needed. Throws std::runtime_error naming the path.
void save_model(const MLP& model, const std::string& folder);

// Throws std::runtime_error naming the file and the problem: missing, malformed manifest line,
// wrong dtype, or a shape that disagrees with the manifest.
MLP load_model(const std::string& folder);

}  // namespace nn
