// A character-level recurrent network written in ops, trained by truncated backpropagation through
// time: the walk-through of the README's "Writing a recurrent model". It learns to continue a
// sentence, then writes it out from its first letter.
#include <cstdio>
#include <string>
#include <vector>

#include "autograd/autograd.hpp"
#include "nn/optim.hpp"
#include "nn/random.hpp"

using namespace autograd;

int main() {
  const std::string text = "the quick brown fox jumps over the lazy dog. ";
  std::string symbols;  // the vocabulary: each character of the text once
  for (char c : text) {
    if (symbols.find(c) == std::string::npos) symbols += c;
  }
  const std::size_t V = symbols.size(), D = 8, H = 48, B = 8, T = 12;  // sizes, batch, steps
  const auto id = [&](std::size_t pos) { return static_cast<int>(symbols.find(text[pos % text.size()])); };

  nn::Rng rng(1);
  Parameter E(rng.randn(V, D), "E");                                  // embedding table
  Parameter U(rng.randn(D, H) / std::sqrt(double(D)), "U");           // input -> state
  Parameter W(rng.randn(H, H) / std::sqrt(double(H)), "W");           // state -> state
  Parameter b(xt::zeros<double>({std::size_t{1}, H}), "b");
  Parameter Vw(rng.randn(H, V) / std::sqrt(double(H)), "V");          // state -> logits
  Parameter c(xt::zeros<double>({std::size_t{1}, V}), "c");
  nn::Adam adam({&E, &U, &W, &b, &Vw, &c});

  // B streams read the text from evenly spaced starts; the state is carried from chunk to chunk.
  std::vector<std::size_t> pos(B);
  for (std::size_t k = 0; k < B; ++k) pos[k] = k * text.size() / B;
  Matrix state = xt::zeros<double>({B, H});
  std::vector<Labels> ids(T + 1, Labels(B));
  Tape tape;
  for (int step = 0; step <= 300; ++step) {
    for (std::size_t t = 0; t <= T; ++t) {
      for (std::size_t k = 0; k < B; ++k) ids[t][k] = id(pos[k] + t);
    }
    tape.clear();
    for (Parameter* p : {&E, &U, &W, &b, &Vw, &c}) p->zero_grad();
    Var s = tape.constant(state);  // enters as a value: truncated BPTT stops here
    Var loss;                      // empty: the zero of +
    for (std::size_t t = 0; t < T; ++t) {
      const Var x = gather_rows(tape.param(E), ids[t]);                     // [B x D]
      s = tanh(matmul(x, tape.param(U)) + matmul(s, tape.param(W)) + tape.param(b));
      const Var logits = matmul(s, tape.param(Vw)) + tape.param(c);        // [B x V]
      loss += softmax_cross_entropy(logits, ids[t + 1]);                   // mean over the batch
    }
    loss = loss / double(T);
    tape.backward(loss);  // through all T steps at once
    adam.step(0.01);
    state = s.value();
    for (std::size_t& p : pos) p += T;
    if (step % 100 == 0) std::printf("step %3d: loss %.4f nats per character\n", step, loss.value()(0, 0));
  }

  // Greedy continuation from the first letter, one step at a time, without recording.
  std::string out(1, text[0]);
  Tape::NoGrad no_grad(tape);
  Var s = tape.constant(xt::zeros<double>({std::size_t{1}, H}));
  for (std::size_t i = 0; i + 1 < text.size(); ++i) {
    const Var x = gather_rows(tape.param(E), {static_cast<int>(symbols.find(out.back()))});
    s = tanh(matmul(x, tape.param(U)) + matmul(s, tape.param(W)) + tape.param(b));
    out += symbols[static_cast<std::size_t>(argmax(matmul(s, tape.param(Vw)) + tape.param(c))[0])];
  }
  std::printf("continues: %s\n", out.c_str());
  return out == text.substr(0, out.size()) ? 0 : 1;
}
