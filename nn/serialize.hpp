#pragma once
// A trained model on disk: a folder with model.txt (the architecture) and one .npy per parameter
// (layer0_W.npy, layer0_b.npy, …), float64, readable by numpy.load.
#include <string>

#include "nn/layers.hpp"

namespace nn {

// Throws std::runtime_error naming the path unless save_model could write a model there: the
// path must be absent, an empty folder, or a model folder this program wrote (model.txt starting
// with its format line, and nothing but model.txt and layerN_W.npy / layerN_b.npy in it); a file,
// a symbolic link or any other folder is refused. Creates missing parent folders and checks that
// the parent is writable, so that a program can call it before a long training run.
void check_save_target(const std::string& folder);

// Checks the target as check_save_target does and refuses non-finite parameters (naming the
// file), then writes the model into a new hidden sibling folder and puts it in place of `folder`:
// a failed save leaves no half-written model and any previous one untouched. A trailing slash is
// allowed. Throws std::runtime_error naming the path.
void save_model(const MLP& model, const std::string& folder);

// Throws std::runtime_error naming the file and the problem: missing, malformed manifest line,
// sizes above max_layer_size / max_parameters, wrong dtype, a shape that disagrees with the
// manifest, a non-finite parameter, or a layer file beyond the layers the manifest lists.
MLP load_model(const std::string& folder);

}  // namespace nn
