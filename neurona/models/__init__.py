"""Ready-made architectures, buildable by name (``neurona.models``).

>>> from neurona import models
>>> model = models.build_model("mlp", hidden=[300, 100])   # or models.MLP(784, (300, 100), 10)
>>> sorted(models.list_models())                            # every registered name

Each model module registers its models with ``register_model`` (see
``registry.py``); model files store the name and config and are rebuilt here.
"""
from .registry import (ModelSpec, UnknownModelError, build_model, get_model_spec, list_models, model_config,
                       register_model)
from .mlp import MLP

# --- model families added by other modules (cnn, rnn, ...): one import line each ---
from ._common import skip_init
from .lenet import LeNet5
from .cnn_small import CNNSmall, cnn_small
from .alexnet import AlexNet
from .vgg import VGG, VGG11, VGG13, VGG16, VGG19, vgg
from .resnet import BasicBlock, ResNet, ResNet18, ResNet34, resnet
from .inception import BasicConv2d, GoogLeNet, InceptionAux, InceptionBlock, googlenet_loss
from .transfer import (LoadReport, find_head, freeze, load_weights, param_groups, read_safetensors, replace_head,
                       unfreeze)
from .summary import LayerInfo, format_summary, summary
from .recurrent import CharLM, EmbeddingBagClassifier, SequenceClassifier, gru_classifier, lstm_classifier, rnn_classifier
from .elman import ElmanNetwork, SecondOrderNetwork
from .seq2seq import RecurrentSeq2Seq, TransformerSeq2Seq
from .transformer_lm import TransformerLM
from .vit import VisionTransformer
from .unet import DoubleConv, UNet, UpBlock
from .detector import GridDetector
from .autoencoder import VAE, ConvAutoencoder, vae_loss
from .gan import DCGANDiscriminator, DCGANGenerator, dcgan_init_, gan_step
