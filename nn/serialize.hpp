#pragma once
// A trained model on disk: a folder with model.txt (the architecture) and one .npy per parameter
// (layer0_W.npy, layer0_b.npy, …), float64, readable by numpy.load.
#include <string>

#include "nn/layers.hpp"

namespace nn {

// Writes the model into a sibling folder FOLDER.saving, then puts it in place of FOLDER, so that a
// failed save leaves no half-written model and any previous one untouched. Throws
// std::runtime_error naming the path.
void save_model(const MLP& model, const std::string& folder);

// Throws std::runtime_error naming the file and the problem: missing, malformed manifest line,
// wrong dtype, or a shape that disagrees with the manifest.
MLP load_model(const std::string& folder);

}  // namespace nn
