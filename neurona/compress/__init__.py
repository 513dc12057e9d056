"""Smaller networks (``neurona.compress``): pruning, quantization and knowledge distillation.

The notes' "Reducción del tamaño de las redes neuronales":

- poda por RELEVANCIA and por CASTIGO → :func:`magnitude_prune`, :func:`penalty_prune`,
  :func:`iterative_prune` (masks held through fine-tuning, saved with :func:`save_pruned`);
- cuantización de los parámetros → :func:`quantize` (int8 weights and activations, int32 sums);
- knowledge distillation → :func:`distill`, :func:`distillation_loss`.

>>> from neurona import compress
>>> masks = compress.magnitude_prune(model, sparsity=0.8, scope="global")
>>> qmodel = compress.quantize(model, calibration_data=X_train[:2048])
>>> compress.distill(student, teacher, (X_train, y_train), epochs=10, T=2.0, alpha=0.5)
"""
from .compare import comparison_table, count_parameters, file_size, inference_time, model_stats
from .distillation import DistillationLoss, TeacherStudent, distill, distillation_loss, soft_targets
from .pruning import (KeepMasks, PruningMasks, PruningResult, SparsityReport, get_masks, iterative_prune,
                      load_pruned, magnitude_prune, penalty_prune, prunable_parameters, remove_pruning, save_pruned,
                      shrink, sparsity_report, sparsity_schedule, threshold_prune)
from .quantization import (QuantizedConv1d, QuantizedConv2d, QuantizedLinear, QuantizedModel, calibrate, dequantize,
                           quantize, quantize_per_channel)

__all__ = [
    "magnitude_prune", "threshold_prune", "penalty_prune", "iterative_prune", "sparsity_schedule", "PruningMasks",
    "PruningResult", "KeepMasks", "SparsityReport", "sparsity_report", "prunable_parameters", "get_masks",
    "remove_pruning", "save_pruned", "load_pruned", "shrink",
    "quantize", "calibrate", "QuantizedModel", "QuantizedLinear", "QuantizedConv2d", "QuantizedConv1d",
    "quantize_per_channel", "dequantize",
    "distill", "distillation_loss", "DistillationLoss", "TeacherStudent", "soft_targets",
    "model_stats", "comparison_table", "count_parameters", "file_size", "inference_time",
]
