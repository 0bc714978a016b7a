#pragma once
/// \file
/// A trained model on disk: a folder with model.txt (the architecture) and one .npy per parameter
/// (layer0_W.npy, layer0_b.npy, …) in the model's precision (`<f8` for float64, `<f4` for float32),
/// readable by numpy.load. model.txt:
/// ```
///   autograd-mlp 1
///   activation tanh
///   sizes 2 3 2
///   dtype float32                  (absent in files of earlier versions: float64)
///   converted_from float64         (only if the model was loaded from a file of the other precision)
///   input_scaling standardize      (only for a model with input scaling: input_mean.npy and
///                                   input_scale.npy, float64 [1 x inputs], hold it)
/// ```
/// Folders of earlier versions, without the optional lines, load as before.
#include <string>

#include "nn/layers.hpp"

namespace nn {

/// Checks that save_model() could write a model to folder, before a long training run.
///
/// Throws std::runtime_error naming the path unless save_model could write a model there: the
/// path must be absent, an empty folder, or a model folder this program wrote (model.txt starting
/// with its format line, and nothing but model.txt, layerN_W.npy / layerN_b.npy and the input
/// scaling's files in it); a file, a symbolic link or any other folder is refused. Creates missing
/// parent folders and checks that the parent is writable, so that a program can call it before a
/// long training run.
void check_save_target(const std::string& folder);

/// Saves model to folder, in the model's precision.
///
/// Checks the target as check_save_target does and refuses non-finite parameters (naming the
/// file), then writes the model into a new hidden sibling folder and puts it in place of `folder`:
/// a failed save leaves no half-written model and any previous one untouched. A trailing slash is
/// allowed. Throws std::runtime_error naming the path.
template <class T>
void save_model(const BasicMLP<T>& model, const std::string& folder);

/// Loads the model saved in folder as an MLP of T.
///
/// `load_model(folder)` gives a float64 MLP, `load_model<float>(folder)` a float32 one, whatever the
/// files hold: parameters of the other precision are converted (a float64 value too large for
/// float32 is refused as non-finite), and the model's converted_from() names the file's dtype.
/// Throws std::runtime_error naming the file and the problem: missing, malformed manifest line,
/// sizes above max_layer_size / max_parameters, wrong dtype, a shape that disagrees with the
/// manifest, a non-finite parameter, or a layer file beyond the layers the manifest lists.
template <class T = double>
BasicMLP<T> load_model(const std::string& folder);

/// The dtype a model folder's parameters are saved in, "float64" or "float32", from its model.txt
/// (checked as load_model checks it; the weight files are not read).
std::string saved_dtype(const std::string& folder);

extern template void save_model(const BasicMLP<double>&, const std::string&);
extern template void save_model(const BasicMLP<float>&, const std::string&);
extern template BasicMLP<double> load_model(const std::string&);
extern template BasicMLP<float> load_model(const std::string&);

}  // namespace nn
