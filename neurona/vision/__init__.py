"""Computer vision beyond classification: segmentation and detection (``neurona.vision``).

- ``boxes``: box formats, IoU, non-maximum suppression (torchvision's ``ops`` semantics);
- ``grid``: boxes encoded on a grid of cells and decoded back, the loss of a grid detector;
- ``metrics``: confusion-matrix IoU / mIoU for segmentation, mean average precision for detection;
- ``losses``: soft Dice loss, sigmoid focal loss;
- ``canvas``: scenes of Fashion-MNIST items on a larger canvas, with per-pixel classes and boxes.

The layers these tasks need (``nn.ConvTranspose2d``, ``nn.Upsample``) are in ``neurona.nn``, and the
networks (U-Net, the grid detector) in ``neurona.models``.
"""
from .boxes import (BOX_FORMATS, batched_nms, box_area, box_convert, box_iou, clip_boxes_to_image,
                    generalized_box_iou, nms, remove_small_boxes)
from .canvas import SEGMENTATION_CLASSES, Canvases, fashion_canvases, make_canvases
from .grid import GridBoxCoder, GridDetectionLoss, detect
from .losses import DiceLoss, dice_loss, sigmoid_focal_loss
from .metrics import (MeanAveragePrecision, SegmentationScores, average_precision, confusion_matrix,
                      iou_from_confusion, mean_average_precision, mean_iou)
