#include "models.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "nn/words.hpp"

namespace words {

using namespace autograd;
using nn::Vocabulary;

namespace {

constexpr std::size_t V = Vocabulary::size;

// The row's softmax as a plain vector: the next-symbol distribution of a model's last logits row.
std::vector<double> last_row_softmax(const Var& logits) {
  const Matrix p = softmax(slice_rows(logits, logits.rows() - 1, logits.rows())).value();
  return std::vector<double>(p.begin(), p.end());
}

// Σ −log p(target) of rows [0, count) of logits, without recording (the caller's NoGrad).
double summed_nll(const Var& logits, const Labels& targets, std::size_t count) {
  const Matrix lp = log_softmax(logits).value();
  double nll = 0.0;
  for (std::size_t r = 0; r < count; ++r) nll -= lp(r, static_cast<std::size_t>(targets[r]));
  return nll;
}

// ---------------------------------------------------------------------------------------------
// 1. Bigram counts.

class Bigram : public Model {
 public:
  explicit Bigram(const Words& train) : logp_(xt::ones<double>({V, V})) {  // add-one smoothing
    for (const auto& w : train) {
      const Labels ids = Vocabulary::encode(w);
      for (std::size_t i = 0; i + 1 < ids.size(); ++i) logp_(ids[i], ids[i + 1]) += 1.0;
    }
    const Matrix totals = xt::sum(logp_, {1}, xt::keep_dims);
    logp_ = xt::log(logp_ / totals);
  }
  std::string name() const override { return "bigram"; }
  std::vector<Parameter*> parameters() override { return {}; }
  std::size_t size() override { return V * V; }
  Var train_loss(Tape&, nn::Rng&) override { throw std::logic_error("the bigram is counted, not trained"); }
  double loss(Tape&, const Words& words) override {
    double nll = 0.0;
    std::size_t n = 0;
    for (const auto& w : words) {
      const Labels ids = Vocabulary::encode(w);
      for (std::size_t i = 0; i + 1 < ids.size(); ++i, ++n) nll -= logp_(ids[i], ids[i + 1]);
    }
    return nll / static_cast<double>(n);
  }
  std::vector<double> next(Tape&, const Labels& prefix) override {
    std::vector<double> p(V);
    for (std::size_t c = 0; c < V; ++c) p[c] = std::exp(logp_(prefix.back(), c));
    return p;
  }

 private:
  Matrix logp_;  // log P(next | previous), [27 x 27]
};

// ---------------------------------------------------------------------------------------------
// 2. The MLP of Bengio et al. (2003) over the previous k symbols ('.' before the word's start).

class MLP : public Model {
 public:
  MLP(const Words& train, const Sizes& s, std::uint64_t seed)
      : k_(s.context), batch_(s.batch * s.bptt), C_(V, s.embedding, seed),
        hidden_(s.context * s.embedding, s.hidden, seed + 1), out_(s.hidden, V, seed + 2) {
    contexts(train, X_, Y_);
  }
  std::string name() const override { return "mlp"; }
  std::vector<Parameter*> parameters() override {
    return {&C_.table, &hidden_.W, &hidden_.b, &out_.W, &out_.b};
  }

  // logits for n contexts of k ids each (row-major in ctx).
  Var logits(Tape& tape, const Labels& ctx) {
    const std::size_t n = ctx.size() / k_;
    const Var emb = reshape(C_(tape, ctx), n, k_ * C_.table.value.shape(1));  // concatenated
    return out_(tape, tanh(hidden_(tape, emb)));
  }

  Var train_loss(Tape& tape, nn::Rng& rng) override {
    Labels ctx(batch_ * k_), y(batch_);
    for (std::size_t r = 0; r < batch_; ++r) {
      const std::size_t i = rng.below(Y_.size());
      std::copy(X_.begin() + i * k_, X_.begin() + (i + 1) * k_, ctx.begin() + r * k_);
      y[r] = Y_[i];
    }
    return softmax_cross_entropy(logits(tape, ctx), y);
  }

  double loss(Tape& tape, const Words& words) override {
    Labels X, Y;
    contexts(words, X, Y);
    double nll = 0.0;
    const std::size_t chunk = 4096;
    for (std::size_t first = 0; first < Y.size(); first += chunk) {
      const std::size_t n = std::min(chunk, Y.size() - first);
      Tape::NoGrad no_grad(tape);
      const Labels ctx(X.begin() + first * k_, X.begin() + (first + n) * k_);
      const Labels y(Y.begin() + first, Y.begin() + first + n);
      nll += softmax_cross_entropy(logits(tape, ctx), y, Reduction::sum).value()(0, 0);
    }
    return nll / static_cast<double>(Y.size());
  }

  std::vector<double> next(Tape& tape, const Labels& prefix) override {
    Labels ctx(k_, 0);
    for (std::size_t j = 0; j < k_ && j < prefix.size(); ++j) ctx[k_ - 1 - j] = prefix[prefix.size() - 1 - j];
    Tape::NoGrad no_grad(tape);
    return last_row_softmax(logits(tape, ctx));
  }

 private:
  // Every (previous k symbols, next symbol) pair of the words.
  void contexts(const Words& words, Labels& X, Labels& Y) const {
    for (const auto& w : words) {
      const Labels ids = Vocabulary::encode(w);
      for (std::size_t i = 1; i < ids.size(); ++i) {
        for (std::size_t j = k_; j > 0; --j) X.push_back(i >= j ? ids[i - j] : 0);
        Y.push_back(ids[i]);
      }
    }
  }

  std::size_t k_, batch_;
  nn::Embedding C_;
  nn::Dense hidden_, out_;
  Labels X_, Y_;  // the training pairs: X_ holds k ids per pair
};

// The symbols of the words joined as the recurrent models read them: ".word.word.…word.".
std::size_t stream_symbols(const Words& words) {
  std::size_t n = 1;
  for (const auto& w : words) n += w.size() + 1;
  return n;
}

// A stream of `symbols` must give each of B segments T inputs, each with the symbol after it.
void check_stream(const std::string& name, std::size_t symbols, std::size_t B, std::size_t T) {
  if ((symbols - 1) / B < T) {
    throw std::invalid_argument(name + ": the " + std::to_string(symbols) +
                                " symbols of the training words are too few for --batch " +
                                std::to_string(B) + " and --bptt " + std::to_string(T) + " (" +
                                std::to_string(B) + " streams of " + std::to_string(T) +
                                " steps need " + std::to_string(B * T + 1) + ")");
  }
}

// ---------------------------------------------------------------------------------------------
// 3. and 4. Recurrent models: s_t = cell(x_t, s_{t−1}), logits_t = s_t·V + c, trained by truncated
// back-propagation through time. The training words, shuffled each epoch, are joined into one
// stream ".word.word.…word." cut into `batch` equal segments read side by side, `bptt` symbols
// per step; the state is carried from step to step as a constant (the truncation), and reset to
// zero wherever the input is '.', so that each word is predicted from its own symbols alone, as
// by the other models (and as when sampling).

template <class Cell>
class Recurrent : public Model {
 public:
  Recurrent(std::string name, const Words& train, const Sizes& s, std::uint64_t seed)
      : name_(std::move(name)), train_(train), B_(s.batch), T_(s.bptt), emb_(V, s.embedding, seed),
        cell_(s.embedding, s.hidden, seed + 1), head_(s.hidden, V, seed + 2) {}
  std::string name() const override { return name_; }
  std::vector<Parameter*> parameters() override {
    std::vector<Parameter*> ps{&emb_.table, &head_.W, &head_.b};
    for (Parameter* p : cell_.parameters()) ps.push_back(p);
    return ps;
  }

  // The state after reading one symbol per row.
  Var step(Tape& tape, const Labels& ids, Var s) {
    Matrix keep = xt::ones<double>({ids.size(), std::size_t{1}});
    bool reset = false;
    for (std::size_t r = 0; r < ids.size(); ++r) {
      if (ids[r] == 0) keep(r, 0) = 0.0, reset = true;
    }
    if (reset) s = s * tape.constant(keep);
    return cell_(tape, emb_(tape, ids), s);
  }

  Var train_loss(Tape& tape, nn::Rng& rng) override {
    if (stream_.empty() || pos_ + T_ > segment_) new_epoch(rng);
    Var s = tape.constant(state_);
    std::vector<Var> states;
    Labels ids(B_), targets(T_ * B_);
    for (std::size_t t = 0; t < T_; ++t) {
      for (std::size_t b = 0; b < B_; ++b) {
        ids[b] = stream_[b * segment_ + pos_ + t];
        targets[t * B_ + b] = stream_[b * segment_ + pos_ + t + 1];
      }
      s = step(tape, ids, s);
      states.push_back(s);
    }
    state_ = s.value();
    pos_ += T_;
    // The mean over all T·B predictions: the mean over steps of each step's mean cross-entropy.
    return softmax_cross_entropy(head_(tape, concat(states, 0)), targets);
  }

  double loss(Tape& tape, const Words& words) override {
    const Labels stream = join(words);
    const std::size_t n = stream.size() - 1, rows = 256, seg = (n + rows - 1) / rows;
    Matrix state = xt::zeros<double>({rows, cell_.hidden()});
    Labels ids(rows), targets(rows);
    double nll = 0.0;
    for (std::size_t t = 0; t < seg; ++t) {
      std::size_t valid = 0;  // the last segment may be short: its rows come last, padded
      for (std::size_t b = 0; b < rows; ++b) {
        const std::size_t i = b * seg + t;
        ids[b] = i < n ? stream[i] : 0;
        targets[b] = i < n ? stream[i + 1] : 0;
        valid += i < n;
      }
      Tape::NoGrad no_grad(tape);
      const Var s = step(tape, ids, tape.constant(state));
      nll += summed_nll(head_(tape, s), targets, valid);
      state = s.value();
    }
    return nll / static_cast<double>(n);
  }

  std::vector<double> next(Tape& tape, const Labels& prefix) override {
    Tape::NoGrad no_grad(tape);
    Var s = tape.constant(xt::zeros<double>({std::size_t{1}, cell_.hidden()}));
    for (int id : prefix) s = step(tape, Labels{id}, s);
    return last_row_softmax(head_(tape, s));
  }

 private:
  static Labels join(const Words& words) {
    Labels stream{0};
    for (const auto& w : words) {
      for (char c : w) stream.push_back(Vocabulary::id(c));
      stream.push_back(0);
    }
    return stream;
  }
  void new_epoch(nn::Rng& rng) {
    Words order = train_;
    rng.shuffle(order);
    stream_ = join(order);
    check_stream(name_, stream_.size(), B_, T_);
    segment_ = (stream_.size() - 1) / B_;
    pos_ = 0;
    state_ = xt::zeros<double>({B_, cell_.hidden()});
  }

  std::string name_;
  Words train_;
  std::size_t B_, T_;
  nn::Embedding emb_;
  Cell cell_;
  nn::Dense head_;
  Labels stream_;
  std::size_t segment_ = 0, pos_ = 0;
  Matrix state_;
};

// ---------------------------------------------------------------------------------------------
// 5. One transformer block. A batch of words is stacked as rows (batch·time, no padding): word k
// gives the rows '.', w_1, …, w_n with targets w_1, …, w_n, '.', and the block-diagonal causal mask
// lets each row attend to its own word's rows up to itself.

class Attention : public Model {
 public:
  Attention(const Words& train, const Sizes& s, std::uint64_t seed)
      : train_(train), batch_(s.batch), tok_(V, s.width, seed),
        pos_(nn::max_word_length + 1, s.width, seed + 1), block_(s.width, s.heads, seed + 2),
        head_(s.width, V, seed + 5) {}
  std::string name() const override { return "attention"; }
  std::vector<Parameter*> parameters() override {
    std::vector<Parameter*> ps{&tok_.table, &pos_.table, &head_.W, &head_.b};
    for (Parameter* p : block_.parameters()) ps.push_back(p);
    return ps;
  }

  // Logits of the rows of the sequences (each starting with '.').
  Var logits(Tape& tape, const std::vector<Labels>& sequences) {
    Labels ids, positions;
    std::vector<std::size_t> lengths;
    for (const auto& seq : sequences) {
      for (std::size_t t = 0; t < seq.size(); ++t) {
        ids.push_back(seq[t]);
        positions.push_back(static_cast<int>(t));
      }
      lengths.push_back(seq.size());
    }
    const Var x = tok_(tape, ids) + pos_(tape, positions);
    return head_(tape, block_(tape, x, tape.constant(nn::causal_mask(lengths))));
  }

  // The inputs ('.' + word) and targets (word + '.') of words, stacked.
  static std::vector<Labels> inputs(const Words& ws, Labels& targets) {
    std::vector<Labels> seqs;
    for (const auto& w : ws) {
      const Labels ids = Vocabulary::encode(w);
      seqs.emplace_back(ids.begin(), ids.end() - 1);
      targets.insert(targets.end(), ids.begin() + 1, ids.end());
    }
    return seqs;
  }

  Var train_loss(Tape& tape, nn::Rng& rng) override {
    Words batch(batch_);
    for (auto& w : batch) w = train_[rng.below(train_.size())];
    Labels targets;
    const auto seqs = inputs(batch, targets);
    return softmax_cross_entropy(logits(tape, seqs), targets);
  }

  double loss(Tape& tape, const Words& words) override {
    double nll = 0.0;
    std::size_t n = 0;
    for (std::size_t first = 0; first < words.size(); first += 16) {  // small blocks: the mask is N²
      const Words chunk(words.begin() + first, words.begin() + std::min(words.size(), first + 16));
      Labels targets;
      const auto seqs = inputs(chunk, targets);
      Tape::NoGrad no_grad(tape);
      nll += softmax_cross_entropy(logits(tape, seqs), targets, Reduction::sum).value()(0, 0);
      n += targets.size();
    }
    return nll / static_cast<double>(n);
  }

  std::vector<double> next(Tape& tape, const Labels& prefix) override {
    Tape::NoGrad no_grad(tape);
    return last_row_softmax(logits(tape, {prefix}));
  }

 private:
  Words train_;
  std::size_t batch_;
  nn::Embedding tok_, pos_;
  nn::TransformerBlock block_;
  nn::Dense head_;
};

}  // namespace

std::unique_ptr<Model> make_bigram(const Words& train) { return std::make_unique<Bigram>(train); }
std::unique_ptr<Model> make_mlp(const Words& train, const Sizes& s, std::uint64_t seed) {
  return std::make_unique<MLP>(train, s, seed);
}
std::unique_ptr<Model> make_rnn(const Words& train, const Sizes& s, std::uint64_t seed) {
  return std::make_unique<Recurrent<nn::RNNCell>>("rnn", train, s, seed);
}
std::unique_ptr<Model> make_gru(const Words& train, const Sizes& s, std::uint64_t seed) {
  return std::make_unique<Recurrent<nn::GRUCell>>("gru", train, s, seed);
}
std::unique_ptr<Model> make_attention(const Words& train, const Sizes& s, std::uint64_t seed) {
  return std::make_unique<Attention>(train, s, seed);
}

// Elements counted by the code of each model above, per training step; V = 27 symbols. Against
// the peak resident size of short runs of each model this estimate came within 15%.
double training_bytes(const std::string& name, const Words& train, const Words& held, const Sizes& s) {
  const double E = static_cast<double>(s.embedding), H = static_cast<double>(s.hidden);
  const double k = static_cast<double>(s.context), B = static_cast<double>(s.batch);
  const double T = static_cast<double>(s.bptt), d = static_cast<double>(s.width);
  const double heads = static_cast<double>(s.heads), v = static_cast<double>(V);
  const double symbols = static_cast<double>(stream_symbols(train));  // Σ (letters + 1), + 1
  double parameters = 0.0, step = 0.0, held_out = 0.0, data = 0.0;  // elements; bytes of the ids
  if (name == "mlp") {
    // C [V x E], W1 [kE x H], b1, W2 [H x V], b2. One step of n = B·T contexts records the gathered
    // rows [nk x E], their reshape [n x kE], the hidden layer's product, sum and tanh [n x H] each,
    // the logits' product and sum and the softmax [n x V] each.
    const double n = B * T;
    parameters = v * E + k * E * H + H + H * v + v;
    step = n * (2 * k * E + 3 * H + 3 * v);
    data = symbols * (k + 1) * sizeof(int);  // every (k previous ids, next id) pair
    // The held-out loss, in chunks of at most 4096 contexts: the same values, without gradients.
    held_out = std::min(4096.0, static_cast<double>(stream_symbols(held)) - 1) * (2 * k * E + 3 * H + 3 * v);
  } else if (name == "rnn" || name == "gru") {
    // Per time step of B rows: the gathered embeddings [B x E] and the state times the reset mask
    // [B x H]; the rnn's cell records two products, two sums and a tanh [B x H]; the gru's its
    // gates: 25 values of [B x H] (3H wide: 2, 2H wide: 4, H wide: 11). Then the states
    // concatenated [TB x H] and the head's product, sum and softmax [TB x V].
    const double cell = name == "rnn" ? 5 * H : 25 * H;
    const double cell_parameters = name == "rnn" ? E * H + H * H + H : E * 3 * H + 3 * H * H + 3 * H;
    parameters = v * E + cell_parameters + H * v + v;
    step = T * B * (E + H + cell) + T * B * (H + 3 * v);
    data = 2 * symbols * sizeof(int);  // the training words and the stream of them
  } else if (name == "attention") {
    // Token and position tables, Wq, Wk, Wv, Wo [d x d], the MLP's [d x 4d] and [4d x d] with their
    // biases, the head [d x V]. A step of B words stacks N rows, the words' symbols (at their mean
    // length). The mask [N x N] is built and copied to the tape; per head the scores, their
    // scaling, the masked sum and the softmax [N x N] each; about 29 values of [N x d] in the rest
    // of the block (the embeddings' 3, q, k, v, 5 per-head slices and products, the concat, Wo, the
    // residual, the MLP's 12 [N x 4d]/[N x d] and its residual); the head's 3 [N x V].
    const double N = B * (symbols - 1) / static_cast<double>(train.size());
    parameters = v * d + (nn::max_word_length + 1) * d + 12 * d * d + 5 * d + d * v + v;
    step = (4 * heads + 1) * N * N + 29 * N * d + 3 * N * v + N * N;  // + the mask as built
  }
  // A parameter has its value, its gradient and Adam's two moments; a recorded value, its gradient.
  return sizeof(double) * (4 * parameters + 2 * step + held_out) + data;
}

std::string size_flags(const std::string& name, const Sizes& s) {
  const auto flag = [](const char* f, std::size_t value) {
    return std::string(f) + " " + std::to_string(value);
  };
  if (name == "mlp") {
    return flag("--context", s.context) + ", " + flag("--embedding", s.embedding) + ", " +
           flag("--hidden", s.hidden) + ", " + flag("--batch", s.batch) + ", " + flag("--bptt", s.bptt);
  }
  if (name == "rnn" || name == "gru") {
    return flag("--embedding", s.embedding) + ", " + flag("--hidden", s.hidden) + ", " +
           flag("--batch", s.batch) + ", " + flag("--bptt", s.bptt);
  }
  if (name == "attention") {
    return flag("--batch", s.batch) + ", " + flag("--width", s.width) + ", " + flag("--heads", s.heads);
  }
  return {};
}

void check_data(const std::string& name, const Words& train, const Sizes& s) {
  if (name == "rnn" || name == "gru") check_stream(name, stream_symbols(train), s.batch, s.bptt);
}

std::string sample(Model& model, Tape& tape, nn::Rng& rng, std::size_t max_length) {
  Labels ids{0};
  while (ids.size() <= max_length) {
    const std::vector<double> p = model.next(tape, ids);
    double u = rng.uniform();
    std::size_t c = 0;
    while (c + 1 < p.size() && u >= p[c]) u -= p[c++];
    if (c == 0) break;
    ids.push_back(static_cast<int>(c));
  }
  return Vocabulary::decode(ids);
}

}  // namespace words
