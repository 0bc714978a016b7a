#include "options.hpp"

#include <stdexcept>

#include "cli.hpp"
#include "nn/text.hpp"
#include "nn/layers.hpp"

namespace moons {

namespace {

// "3" or "10,10": sizes >= 1, each at most a layer's limit. False if the text is not such a list.
bool parse_sizes(const std::string& v, std::vector<std::size_t>& out) {
  out.clear();
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = v.find(',', start);
    const std::string part = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (part.empty() || part.size() > 18 || part.find_first_not_of("0123456789") != std::string::npos) {
      return false;
    }
    out.push_back(std::stoull(part));
    if (out.back() == 0) return false;
    if (comma == std::string::npos) return true;
    start = comma + 1;
  }
}

// Layer sizes within the network limits, so that nothing huge is allocated on a typo.
std::string check_layer_sizes(const std::string& v) {
  std::vector<std::size_t> sizes;
  if (!parse_sizes(v, sizes)) {
    return nn::quote(v) + " is not a comma-separated list of sizes >= 1, such as 3 or 10,10";
  }
  for (std::size_t s : sizes) {
    if (s > nn::max_layer_size) {
      return nn::quote(v) + " is not a list of sizes of at most " + std::to_string(nn::max_layer_size);
    }
  }
  return {};
}

// Hidden sizes: also at most max_parameters between the hidden layers. Those of the input and
// output layers, which depend on the data, are counted when the data are known.
std::string check_hidden_sizes(const std::string& v) {
  std::string why = check_layer_sizes(v);
  if (!why.empty()) return why;
  std::vector<std::size_t> sizes;
  parse_sizes(v, sizes);
  if (nn::parameter_count(sizes) > nn::max_parameters) {
    return nn::quote(v) + " gives " + std::to_string(nn::parameter_count(sizes)) +
           " parameters, more than the " + std::to_string(nn::max_parameters) + " allowed";
  }
  return {};
}

const char* const model_group = "One model (any of these flags trains one model instead of the walkthrough)";
const char* const data_group = "Data for one model";
const char* const always_group = "Always";

// Every flag, declared on app with its range or choices and stored into o.
// The flags whose values are converted after parsing.
struct Texts {
  std::string hidden, sweep, classes = "2";
};

void declare(CLI::App& app, Options& o, Texts& t) {
  app.description(
      "With no flags, reproduces the blog post \"Implementing a Neural Network from Scratch\" on its\n"
      "exact 200 points: the data, logistic regression, the hidden-size-3 network (loss every 1000\n"
      "passes, and after the last), and the hidden-size sweep, writing the pictures to the output\n"
      "folder. Any flag of the first two groups trains one model instead (the post's exercises).");
  cli::use_help_format(app, 34);

  cli::add_text(app, "--hidden", t.hidden, "LIST", check_hidden_sizes,
                "hidden layer sizes, e.g. 3 or 10,10 (default 3); each at most 100000, and at most "
                "10000000 weights and biases in all")->group(model_group);
  cli::add_choice(app, "--activation", o.activation, {"tanh", "sigmoid", "relu"},
                  "the hidden layers' activation (default tanh)")->group(model_group);
  cli::add_count(app, "--batch-size", o.batch_size, 0, cli::no_limit,
                 "rows per step; 0 = full batch (default 0)")->group(model_group);
  cli::add_choice(app, "--optimizer", o.optimizer, {"gd", "momentum", "adam"},
                  "the optimiser (default gd)")->group(model_group);
  cli::add_real(app, "--rate", o.rate, 1e-12, 1e3, "learning rate (default 0.01)")->group(model_group);
  cli::add_choice(app, "--schedule", o.schedule, {"constant", "step", "exponential", "inverse_time"},
                  "the learning rate's schedule (default constant)")->group(model_group);
  cli::add_real(app, "--decay", o.decay, 0.0, 1e6, "the schedule's decay factor (default 1)")->group(model_group);
  cli::add_count(app, "--decay-every", o.decay_every, 1, cli::no_limit,
                 "optimiser steps per decay period (default 1000)")->group(model_group);
  cli::add_real(app, "--reg", o.reg, 0.0, 1e6, "weight penalty reg/2·Σ|W|² (default 0.01)")->group(model_group);
  cli::add_choice(app, "--loss-reduction", o.loss_reduction, {"sum", "mean"},
                  "the cross-entropy of a step, summed over its rows as in the post, or their mean "
                  "(PyTorch's default), which makes the step size independent of --batch-size "
                  "(default sum)")->group(model_group);
  app.add_flag("--standardize", o.standardize,
               "scale each feature by the training rows' mean and standard deviation "
               "(scikit-learn's StandardScaler); saved with the model, so that --load scales "
               "the same way")->group(model_group);
  cli::add_path(app, "--save", o.save, "DIR",
                "save the trained model (one .npy per parameter + model.txt) into a new or empty "
                "folder, or over a model saved before; nothing else is replaced")->group(model_group);
  cli::add_path(app, "--load", o.load, "DIR",
                "evaluate a saved model instead of training; refused together with the flags that "
                "shape or train a model (--hidden … --standardize, --passes)")->group(model_group);

  cli::add_choice(app, "--classes", t.classes, {"2", "3"},
                  "generated data: 2 (moons) or 3 (spiral) (default 2); refused with --data, whose "
                  "labels give the classes")->group(data_group);
  cli::add_count(app, "--samples", o.samples, min_samples, max_samples,
                 "generated points (default 200); refused with --data")->group(data_group);
  cli::add_real(app, "--noise", o.noise, 0.0, 100.0,
                "noise of the generated points (default 0.2); refused with --data")->group(data_group);
  cli::add_count(app, "--seed", o.seed, 0, cli::no_limit,
                 "seed for the generated data, the weights and the minibatch order (default 0)")->group(data_group);
  cli::add_path(app, "--data", o.data, "FILE",
                "a CSV file (feature columns, then an integer label; a header line, pandas' 0,1,… "
                "header and its index column are recognised), or a .npy file of float64 features "
                "[rows x features] together with --labels; labels 0 to 99999, at least 2 different "
                "ones; the largest label + 1 is the number of classes, at most the number of "
                "rows")->group(data_group);
  cli::add_path(app, "--labels", o.labels, "FILE",
                "a .npy file of integer labels, one per row of a .npy --data")->group(data_group);
  cli::add_open_real(app, "--test-fraction", o.test_fraction, 0.0, 1.0,
                     "the fraction of rows held out, rounded up to whole rows (default 0.2)")->group(data_group);
  cli::add_count(app, "--split-seed", o.split_seed, 0, cli::no_limit,
                 "seed of the held-out rows' shuffle (default: --seed)")->group(data_group);
  cli::add_path(app, "--write-split", o.write_split, "FILE",
                "write the split as CSV, 'row,part': each data row's 0-based index (in the order of "
                "--data, or of the generated points) and 'train' or 'test'")->group(data_group);

  cli::add_choice(app, "--dtype", o.dtype, {"float64", "float32"},
                  "the precision of the models, their training and their saved files (default "
                  "float64; with --load, the model's own)")->group(always_group);
  cli::add_count(app, "--passes", o.passes, 1, cli::no_limit,
                 "passes through the training data (default 20000)")->group(always_group);
  cli::add_count(app, "--log-every", o.log_every, 0, cli::no_limit,
                 "passes between progress lines, the last pass always logged; 0 = none (default "
                 "1000)")->group(always_group);
  cli::add_text(app, "--sweep", t.sweep, "LIST", check_layer_sizes,
                "hidden sizes of the walkthrough's sweep (default 1,2,3,4,5,20,50)")->group(always_group);
  cli::add_path(app, "--out", o.out, "DIR", "where the pictures go (default moons-out)")->group(always_group);
  app.set_help_flag("-h,--help", "this text")->group(always_group);
}

// The first of `flags` that was given, as "--flag 'value'", or "".
std::string first_given(const CLI::App& app, const std::vector<std::string>& flags) {
  for (const std::string& f : flags) {
    const CLI::Option* opt = app.get_option(f);
    if (opt->count() == 0) continue;
    return opt->get_items_expected_max() == 0 ? f : f + " " + nn::quote(cli::given(opt));
  }
  return {};
}

}  // namespace

std::string usage() {
  Options o;
  Texts t;
  CLI::App app("", "moons");
  declare(app, o, t);
  return app.help();
}

Options parse(const std::vector<std::string>& args) {
  Options o;
  Texts t;
  CLI::App app("", "moons");
  declare(app, o, t);
  if (cli::parse(app, args)) {  // --help: the other flags, perhaps half read, do not matter
    Options help;
    help.help = true;
    help.given = {{"--help", ""}};
    return help;
  }
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->count() == 0) continue;
    o.given.emplace_back(opt->get_name(), opt->get_items_expected_max() == 0 ? "" : cli::given(opt));
  }
  if (!t.hidden.empty()) parse_sizes(t.hidden, o.hidden);
  if (!t.sweep.empty()) parse_sizes(t.sweep, o.sweep);
  o.classes = t.classes == "3" ? 3 : 2;
  if (app.get_option("--split-seed")->count() == 0) o.split_seed = o.seed;
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->count() > 0 && (opt->get_group() == model_group || opt->get_group() == data_group)) {
      o.walkthrough = false;
    }
  }

  const bool npy = o.data.size() >= 4 && o.data.compare(o.data.size() - 4, 4, ".npy") == 0;
  if (npy && o.labels.empty()) throw std::invalid_argument("--data: a .npy file of features needs --labels");
  if (!npy && !o.labels.empty()) throw std::invalid_argument("--labels: goes with a .npy --data file");
  if (!o.data.empty()) {
    const std::string generated = first_given(app, {"--classes", "--samples", "--noise"});
    if (!generated.empty()) {
      throw std::invalid_argument(generated + " is for generated data, but --data '" + o.data +
                                  "' is given: the file's labels give the classes and its rows the "
                                  "points; drop " + generated.substr(0, generated.find(' ')));
    }
  }
  if (!o.load.empty()) {
    const std::string training =
        first_given(app, {"--hidden", "--activation", "--batch-size", "--optimizer", "--rate",
                          "--schedule", "--decay", "--decay-every", "--reg", "--loss-reduction",
                          "--standardize", "--passes"});
    if (!training.empty()) {
      throw std::invalid_argument(training + " shapes or trains a new model, but --load '" + o.load +
                                  "' evaluates the saved one as it is (its model.txt gives its "
                                  "sizes, activation and scaling); drop " +
                                  training.substr(0, training.find(' ')));
    }
  }
  return o;
}

nn::TrainOptions training_options(const Options& o) {
  nn::TrainOptions t;
  t.passes = o.passes;
  t.batch_size = o.batch_size;
  t.optimizer = o.optimizer;
  t.schedule = {nn::parse_schedule(o.schedule), o.rate, o.decay, o.decay_every};
  t.loss.reg = o.reg;
  t.loss.reduction = o.loss_reduction == "mean" ? autograd::Reduction::mean : autograd::Reduction::sum;
  t.seed = o.seed;
  return t;
}

}  // namespace moons
