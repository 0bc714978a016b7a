// The README's "engine in fifteen lines" as a whole program: the blog's 2-3-2 network on 200 moons,
// trained by the tape. The README shows the lines between the markers; a test checks that it does.
// README-BEGIN
#include <cmath>
#include <cstdio>

#include "autograd/autograd.hpp"
#include "nn/data.hpp"    // make_moons
#include "nn/random.hpp"  // Rng: seeded randn
using namespace autograd;

int main() {
  const nn::Dataset data = nn::make_moons(200, 0.20, 0);  // X [200 x 2], y: labels 0 or 1
  const Matrix& X = data.X;
  const Labels& y = data.y;
  nn::Rng rng(1);
  Parameter W1(rng.randn(2, 3) / std::sqrt(2.0)), b1(xt::zeros<double>({1, 3}));  // outlive passes
  Parameter W2(rng.randn(3, 2) / std::sqrt(3.0)), b2(xt::zeros<double>({1, 2}));
  Tape tape;
  for (int step = 0; step < 20000; ++step) {
    tape.clear();                                 // keeps its buffers: no allocation per step
    for (Parameter* p : {&W1, &b1, &W2, &b2}) p->zero_grad();
    Var a1 = tanh(matmul(tape.constant(X), tape.param(W1)) + tape.param(b1));  // bias broadcast
    Var z2 = matmul(a1, tape.param(W2)) + tape.param(b2);
    Var loss = softmax_cross_entropy(z2, y, Reduction::sum)
             + 0.01 * (l2_penalty(tape.param(W1)) + l2_penalty(tape.param(W2)));
    tape.backward(loss);                          // fills W1.grad, b1.grad, W2.grad, b2.grad
    for (Parameter* p : {&W1, &b1, &W2, &b2}) p->value -= 0.01 * p->grad;
    if (step % 5000 == 0) std::printf("step %5d: loss %.6f\n", step, loss.value()(0, 0) / 200);
  }
}
// README-END
