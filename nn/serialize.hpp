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
/// scaling's files in it); a file, a symbolic link, a mount point or any other folder is refused. Creates missing
/// parent folders and checks that the parent is writable, so that a program can call it before a
/// long training run.
void check_save_target(const std::string& folder);

/// Saves model to folder, in the model's precision.
///
/// Checks the target as check_save_target does and refuses non-finite parameters (naming the
/// file). Then, holding a lock (the file .NAME.lock beside the folder, removed afterwards) that
/// serialises saves of one folder across processes, it puts right what an interrupted save left
/// (as recover_model_folder does), writes every file into a new hidden sibling folder
/// .NAME.saving-… with checked writes, fsyncs them and the folder, swaps it with `folder` in one
/// step (renameat2 RENAME_EXCHANGE; where the filesystem cannot, two renames with the old model
/// in .NAME.previous-… between them), fsyncs the parent and removes the old model. Whatever
/// fails, short of the disk itself, `folder` then holds the old model or the whole new one (or,
/// after a crash between the two renames, the old one is in .NAME.previous-…, which
/// recover_model_folder and the next save restore). A trailing slash is allowed. Throws
/// std::runtime_error naming the path and, for a failed write, the file and the errno text.
template <class T>
void save_model(const BasicMLP<T>& model, const std::string& folder);

/// Puts right what a save of `folder` that did not finish (a crash, a kill) left beside it.
///
/// If `folder` is missing and a hidden folder of that save holds a whole model (the old one moved
/// aside, or a first save's new one), it is renamed back to `folder`; the other hidden folders of
/// the save (.NAME.saving-…, .NAME.previous-…) are removed. Returns what was done, for the user
/// (empty if nothing was left: then nothing is locked or written, so a read-only folder loads).
/// Throws std::runtime_error naming the folder if the lock or a rename fails.
std::string recover_model_folder(const std::string& folder);
/// Loads the model saved in folder as an MLP of T.
///
/// `load_model(folder)` gives a float64 MLP, `load_model<float>(folder)` a float32 one, whatever the
/// files hold: parameters of the other precision are converted (a float64 value too large for
/// float32 is refused as non-finite), and the model's converted_from() names the file's dtype.
/// Throws std::runtime_error naming the file and the problem: missing, malformed manifest line,
/// sizes above max_layer_size / max_parameters, wrong dtype, a shape that disagrees with the
/// manifest, a non-finite parameter, or a layer file beyond the layers the manifest lists. A
/// missing folder whose interrupted save left a model beside it is named in the error.
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
