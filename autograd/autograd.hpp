#pragma once
/// \file
/// Everything a model needs: the tape, the ops, the gradient checker and the tape's picture.
/// Include this one header to use the engine.
#include "autograd/dot.hpp"
#include "autograd/gradcheck.hpp"
#include "autograd/ops.hpp"
#include "autograd/tape.hpp"
#include "autograd/tensor.hpp"
#include "autograd/threads.hpp"
