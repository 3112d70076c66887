"""The Keras names a config may use, with the parameters each one takes.

Configs are validated before Keras is imported (importing TensorFlow costs
seconds), so the names live here as data. ``tests/test_catalog.py`` checks this
table against the installed Keras in both directions, so it cannot drift.
"""

from __future__ import annotations

# Activation functions: name -> keyword parameters besides ``x``.
ACTIVATIONS: dict[str, tuple[str, ...]] = {
    "celu": ("alpha",),
    "elu": ("alpha",),
    "exponential": (),
    "gelu": ("approximate",),
    "glu": ("axis",),
    "hard_shrink": ("threshold",),
    "hard_sigmoid": (),
    "hard_silu": (),
    "hard_swish": (),
    "hard_tanh": (),
    "leaky_relu": ("negative_slope",),
    "linear": (),
    "log_sigmoid": (),
    "log_softmax": ("axis",),
    "mish": (),
    "relu": ("negative_slope", "max_value", "threshold"),
    "relu6": (),
    "selu": (),
    "sigmoid": (),
    "silu": (),
    "soft_shrink": ("threshold",),
    "softmax": ("axis",),
    "softplus": (),
    "softsign": (),
    "sparse_plus": (),
    "sparse_sigmoid": (),
    "sparsemax": ("axis",),
    "squareplus": ("b",),
    "swish": (),
    "tanh": (),
    "tanh_shrink": (),
    "threshold": ("threshold", "default_value"),
}

# Activations that saturate or die; diagnostics and docs refer to these groups.
RELU_FAMILY = frozenset(
    {"relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "swish"}
)

_FAN = ("seed",)  # input_axes / output_axes exist for convolutions only; not offered

# Weight initializers: canonical snake_case name -> parameters.
INITIALIZERS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "glorot_normal": _FAN,
    "glorot_uniform": _FAN,
    "he_normal": _FAN,
    "he_uniform": _FAN,
    "identity": ("gain",),
    "lecun_normal": _FAN,
    "lecun_uniform": _FAN,
    "ones": (),
    "orthogonal": ("gain", "seed"),
    "random_normal": ("mean", "stddev", "seed"),
    "random_uniform": ("minval", "maxval", "seed"),
    "truncated_normal": ("mean", "stddev", "seed"),
    "variance_scaling": ("scale", "mode", "distribution", "seed"),
    "zeros": (),
}

# Other spellings Keras accepts for the same initializer; configs are stored canonical.
INITIALIZER_ALIASES: dict[str, str] = {
    "Constant": "constant",
    "GlorotNormal": "glorot_normal",
    "GlorotUniform": "glorot_uniform",
    "HeNormal": "he_normal",
    "HeUniform": "he_uniform",
    "Identity": "identity",
    "LecunNormal": "lecun_normal",
    "LecunUniform": "lecun_uniform",
    "Ones": "ones",
    "Orthogonal": "orthogonal",
    "RandomNormal": "random_normal",
    "RandomUniform": "random_uniform",
    "TruncatedNormal": "truncated_normal",
    "VarianceScaling": "variance_scaling",
    "Zeros": "zeros",
    "normal": "random_normal",
    "uniform": "random_uniform",
    "one": "ones",
    "zero": "zeros",
    "xavier_uniform": "glorot_uniform",
    "xavier_normal": "glorot_normal",
}

_OPTIMIZER_COMMON = (
    "learning_rate",
    "weight_decay",
    "clipnorm",
    "clipvalue",
    "global_clipnorm",
    "use_ema",
    "ema_momentum",
    "ema_overwrite_frequency",
    "loss_scale_factor",
    "gradient_accumulation_steps",
)

# Optimizers: name -> parameters (every keyword the Keras class takes but ``name``).
OPTIMIZERS: dict[str, tuple[str, ...]] = {
    "sgd": _OPTIMIZER_COMMON + ("momentum", "nesterov"),
    "adagrad": _OPTIMIZER_COMMON + ("initial_accumulator_value", "epsilon"),
    "rmsprop": _OPTIMIZER_COMMON + ("rho", "momentum", "epsilon", "centered"),
    "adam": _OPTIMIZER_COMMON + ("beta_1", "beta_2", "epsilon", "amsgrad"),
    "adamax": _OPTIMIZER_COMMON + ("beta_1", "beta_2", "epsilon"),
    "nadam": _OPTIMIZER_COMMON + ("beta_1", "beta_2", "epsilon"),
    "adamw": _OPTIMIZER_COMMON + ("beta_1", "beta_2", "epsilon", "amsgrad"),
    "adadelta": _OPTIMIZER_COMMON + ("rho", "epsilon"),
    "adafactor": _OPTIMIZER_COMMON
    + ("beta_2_decay", "epsilon_1", "epsilon_2", "clip_threshold", "relative_step"),
    "ftrl": _OPTIMIZER_COMMON
    + (
        "learning_rate_power",
        "initial_accumulator_value",
        "l1_regularization_strength",
        "l2_regularization_strength",
        "l2_shrinkage_regularization_strength",
        "beta",
    ),
    "lion": _OPTIMIZER_COMMON + ("beta_1", "beta_2"),
}

# Losses by canonical name, with the task and label format each one fits.
LOSSES: dict[str, frozenset[str]] = {
    "binary_crossentropy": frozenset({"binary"}),
    "binary_focal_crossentropy": frozenset({"binary"}),
    "hinge": frozenset({"binary"}),
    "squared_hinge": frozenset({"binary"}),
    "sparse_categorical_crossentropy": frozenset({"multiclass"}),
    "categorical_crossentropy": frozenset({"multiclass_one_hot"}),
    "categorical_focal_crossentropy": frozenset({"multiclass_one_hot"}),
    "categorical_hinge": frozenset({"multiclass_one_hot"}),
    "kl_divergence": frozenset({"multiclass_one_hot"}),
    # MSE on probabilities is how classifiers were trained before cross-entropy;
    # the notes compare the two, so it is allowed wherever the targets are vectors of numbers.
    "mean_squared_error": frozenset({"regression", "binary", "multiclass_one_hot"}),
    "mean_absolute_error": frozenset({"regression", "binary", "multiclass_one_hot"}),
    "huber": frozenset({"regression"}),
    "log_cosh": frozenset({"regression"}),
    "mean_squared_logarithmic_error": frozenset({"regression"}),
    "mean_absolute_percentage_error": frozenset({"regression"}),
    "poisson": frozenset({"regression"}),
}

LOSS_ALIASES: dict[str, str] = {
    "bce": "binary_crossentropy",
    "cce": "categorical_crossentropy",
    "scce": "sparse_categorical_crossentropy",
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "msle": "mean_squared_logarithmic_error",
    "mape": "mean_absolute_percentage_error",
    "kld": "kl_divergence",
}

# Metrics Keras compiles by these names.
METRICS: frozenset[str] = frozenset(
    {
        "accuracy",
        "binary_accuracy",
        "categorical_accuracy",
        "sparse_categorical_accuracy",
        "top_k_categorical_accuracy",
        "sparse_top_k_categorical_accuracy",
        "auc",
        "precision",
        "recall",
        "mae",
        "mse",
        "root_mean_squared_error",
        "mape",
        "r2_score",
    }
)
