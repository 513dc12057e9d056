"""``neurona.nn.functional``: every differentiable op as a function, PyTorch's ``torch.nn.functional``.

The same objects as in :mod:`neurona.functional` (math, reductions, shapes,
activations, losses, linear, convolution, pooling, normalization, dropout),
gathered under the name PyTorch users reach for::

    import neurona.nn.functional as F
    loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
"""
from ..functional import *  # noqa: F401,F403  (core ops: math, reduce, shape)
from ..functional.activation import *  # noqa: F401,F403
from ..functional.conv import *  # noqa: F401,F403
from ..functional.dropout import dropout, gaussian_noise  # noqa: F401
from ..functional.embedding import embedding, embedding_bag, one_hot  # noqa: F401
from ..functional.linear import linear  # noqa: F401
from ..functional.loss import *  # noqa: F401,F403
from ..functional.loss import cross_entropy_composed  # noqa: F401
from ..functional.math import sign  # noqa: F401
from ..functional.normalization import batch_norm, layer_norm  # noqa: F401
from ..functional.pool import *  # noqa: F401,F403

from ..functional.attention import masked_softmax, scaled_dot_product_attention  # noqa: F401
from ..functional.second_order import second_order_rnn_cell  # noqa: F401
from ..functional.conv_transpose import conv_transpose1d, conv_transpose2d  # noqa: F401
from ..functional.activation_more import *  # noqa: F401,F403,E402
from ..functional.normalization_more import *  # noqa: F401,F403,E402
from ..functional.loss_more import *  # noqa: F401,F403,E402
from ..functional.dropout_more import *  # noqa: F401,F403,E402
from ..functional.fold import *  # noqa: F401,F403,E402
from ..functional.blend import bilinear  # noqa: F401,E402
from ..functional.pool import dropout2d  # noqa: F401,E402
