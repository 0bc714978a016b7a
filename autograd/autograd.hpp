#pragma once
// Everything a model needs: the tape, the ops, and the gradient checker.
#include "autograd/gradcheck.hpp"
#include "autograd/ops.hpp"
#include "autograd/tape.hpp"
#include "autograd/tensor.hpp"
#include "autograd/threads.hpp"
