#include "options.hpp"

#include <stdexcept>

#include "cli.hpp"
#include "nn/text.hpp"

namespace words {

namespace {

const std::vector<std::string> all_models{"bigram", "mlp", "rnn", "gru", "attention"};

// "mlp,rnn" or "all" as the models to train, in the order of all_models; false if a name is unknown.
bool parse_models(const std::string& v, std::vector<std::string>& out) {
  std::vector<bool> chosen(all_models.size(), false);
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = v.find(',', start);
    const std::string part = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    bool known = false;
    for (std::size_t k = 0; k < all_models.size(); ++k) {
      if (part == all_models[k]) chosen[k] = known = true;
    }
    if (part == "all") chosen.assign(all_models.size(), known = true);
    if (!known) return false;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  out.assign(1, "bigram");  // always: the baseline
  for (std::size_t k = 1; k < all_models.size(); ++k) {
    if (chosen[k]) out.push_back(all_models[k]);
  }
  return true;
}

void declare(CLI::App& app, Options& o, std::string& models) {
  app.description(
      "Character-level language models of English words, the makemore progression: a bigram count\n"
      "table, an MLP on the previous characters' embeddings (Bengio et al. 2003), a vanilla RNN and a\n"
      "GRU trained by truncated back-propagation through time, and one block of causal\n"
      "self-attention. Each model is trained with Adam on minibatches (rate decaying exponentially\n"
      "to a tenth over the steps), then scored on held-out words in nats per character (each letter\n"
      "and the end of the word, given the letters before it in the word). Prints the table of\n"
      "held-out losses and training seconds, samples new words from each model, and writes the\n"
      "training-loss curves to OUT/loss.png.\n"
      "\n"
      "The word list has one word per line. Each word is lowercased; words with anything else than\n"
      "the letters a-z (apostrophes, hyphens, accents, digits) are skipped, and repeats are kept\n"
      "once. The vocabulary is '.' (start and end of a word) and a-z.");
  cli::use_help_format(app, 32);
  const std::size_t big = 1000000;
  cli::add_text(
      app, "--models", models, "LIST",
      [](const std::string& v) {
        std::vector<std::string> ignored;
        return parse_models(v, ignored) ? std::string()
                                        : nn::quote(v) + " is not a comma-separated list of bigram, mlp, "
                                                    "rnn, gru, attention (or all)";
      },
      "comma-separated: bigram, mlp, rnn, gru, attention, or all (default all); the bigram is "
      "always counted, as the baseline");
  cli::add_path(app, "--words", o.words, "FILE",
                "the word list (default /usr/share/dict/words, Debian's wamerican); lines of at "
                "most 4096 bytes");
  cli::add_path(app, "--out", o.out, "DIR", "where loss.png goes (default words-out)");
  cli::add_count(app, "--steps", o.steps, 1, 100 * big, "optimiser steps per model (default 4000)");
  cli::add_count(app, "--batch", o.sizes.batch, 1, 65536,
                 "per step: words (attention), parallel streams of --bptt characters (rnn, gru); "
                 "the mlp takes batch x bptt contexts, as many as an rnn step predicts (default 32)");
  cli::add_real(app, "--rate", o.rate, 1e-12, 10.0,
                "Adam's learning rate at the start (default 0.01); a model whose training loss is not "
                "finite, or whose mean over 10 steps is above 10 ln 27 = 33 nats per character, is stopped "
                "with an error");
  cli::add_count(app, "--embedding", o.sizes.embedding, 1, 4096,
                 "embedding size of mlp, rnn, gru (default 16)");
  cli::add_count(app, "--hidden", o.sizes.hidden, 1, 4096, "hidden size of mlp, rnn, gru (default 128)");
  cli::add_count(app, "--context", o.sizes.context, 1, 64,
                 "mlp: previous characters it sees (default 3)");
  cli::add_count(app, "--bptt", o.sizes.bptt, 1, 4096,
                 "rnn, gru: steps per truncated back-propagation (default 16)");
  cli::add_count(app, "--width", o.sizes.width, 1, 4096,
                 "attention: embedding and residual width (default 64)");
  cli::add_count(app, "--heads", o.sizes.heads, 1, 4096,
                 "attention: heads; must divide --width (default 4)");
  cli::add_real(app, "--held-out", o.held_out, 0.001, 0.9, "fraction of the words held out (default 0.1)");
  cli::add_count(app, "--seed", o.seed, 0, cli::no_limit - 1,
                 "seed of the split, the weights, the minibatches and the samples (default 1)");
  cli::add_count(app, "--samples", o.samples, 0, big, "words sampled from each model (default 20)");
  cli::add_count(app, "--log-every", o.log_every, 0, 100 * big,
                 "steps between progress lines; 0 = none (default 500)");
  cli::add_real(app, "--max-memory", o.max_memory, 0.001, 1e6,
                "GiB of memory one model's training may take, estimated from the sizes before any "
                "training; a model above it is refused, naming its flags (default 2)");
  app.add_flag("--check", o.check,
               "exit with status 1 unless every trained model's held-out loss is below the bigram's");
  app.set_help_flag("-h,--help", "this text");
}

}  // namespace

std::string usage() {
  Options o;
  std::string models;
  CLI::App app("", "words");
  declare(app, o, models);
  return app.help();
}

Options parse(const std::vector<std::string>& args) {
  Options o;
  std::string models;
  CLI::App app("", "words");
  declare(app, o, models);
  if (cli::parse(app, args)) {  // --help: the other flags, perhaps half read, do not matter
    Options help;
    help.help = true;
    return help;
  }
  if (!models.empty()) parse_models(models, o.models);
  if (o.sizes.width % o.sizes.heads != 0) {
    throw std::invalid_argument("--heads: '" + std::to_string(o.sizes.heads) + "' does not divide --width " +
                                std::to_string(o.sizes.width));
  }
  return o;
}

}  // namespace words
