#pragma once
// The five character-level models of the makemore progression, each predicting the next symbol
// of a word ('.' ends it) from the symbols before it in the same word. Every model is scored the
// same way: mean negative log-likelihood, in nats, of each letter and of the closing '.', given
// the symbols before it in its word.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "autograd/autograd.hpp"
#include "nn/random.hpp"
#include "nn/sequence.hpp"

namespace words {

using autograd::Labels;
using autograd::Matrix;
using autograd::Parameter;
using autograd::Tape;
using autograd::Var;
using Words = std::vector<std::string>;

struct Sizes {
  std::size_t embedding = 16;  // mlp, rnn, gru
  std::size_t hidden = 128;    // mlp, rnn, gru
  std::size_t context = 3;     // mlp: previous characters seen
  std::size_t bptt = 16;       // rnn, gru: steps per truncated back-propagation
  std::size_t width = 64;      // attention: embedding and residual width
  std::size_t heads = 4;       // attention
  std::size_t batch = 32;      // per step: streams (rnn, gru), words (attention); the mlp takes
                               // batch · bptt contexts, as many predictions as an rnn step
};

class Model {
 public:
  virtual ~Model() = default;
  virtual std::string name() const = 0;
  virtual std::vector<Parameter*> parameters() = 0;  // empty: nothing to train (the bigram)
  // Numbers the model learns: its parameters' elements (the bigram: its 27 x 27 counts).
  virtual std::size_t size() {
    std::size_t n = 0;
    for (const Parameter* p : parameters()) n += p->value.size();
    return n;
  }
  // Records one minibatch's mean loss per predicted character on the tape.
  virtual Var train_loss(Tape& tape, nn::Rng& rng) = 0;
  // Mean nats per predicted character over the words, computed without recording.
  virtual double loss(Tape& tape, const Words& words) = 0;
  // The distribution of the next symbol after prefix ('.' first, then letters), 27 values.
  virtual std::vector<double> next(Tape& tape, const Labels& prefix) = 0;
};

// 1. Bigram counts with add-one smoothing: P(b | a) = (N[a,b] + 1) / (N[a,·] + 27). No engine.
std::unique_ptr<Model> make_bigram(const Words& train);
// 2. Bengio et al. (2003): embeddings of the previous `context` symbols, concatenated, tanh layer.
std::unique_ptr<Model> make_mlp(const Words& train, const Sizes& s, std::uint64_t seed);
// 3. Vanilla RNN, 4. GRU: truncated back-propagation through time over a stream of the words.
std::unique_ptr<Model> make_rnn(const Words& train, const Sizes& s, std::uint64_t seed);
std::unique_ptr<Model> make_gru(const Words& train, const Sizes& s, std::uint64_t seed);
// 5. One block of causal multi-head self-attention + MLP, with residuals and position embeddings.
std::unique_ptr<Model> make_attention(const Words& train, const Sizes& s, std::uint64_t seed);

// The memory a model's training and scoring hold at their peak, in bytes, estimated from the
// sizes and the words before anything is allocated (see models.cpp for each model's count):
// float64 parameters with their gradients and Adam's two moments, every value one training step
// records on the tape with its gradient, the values of scoring the held-out words where they are
// larger, and the model's own copy of the training data.
double training_bytes(const std::string& name, const Words& train, const Words& held_out, const Sizes& s);
// The size flags training_bytes depends on for a model, with their values: "--width 64, …".
std::string size_flags(const std::string& name, const Sizes& s);
// Throws std::invalid_argument naming the model and the flags if the training words are too few
// for the model's minibatches (the rnn's and gru's --batch streams of --bptt steps).
void check_data(const std::string& name, const Words& train, const Sizes& s);

// A word drawn from the model symbol by symbol until it gives '.' (at most max_length letters).
std::string sample(Model& model, Tape& tape, nn::Rng& rng, std::size_t max_length);

}  // namespace words
