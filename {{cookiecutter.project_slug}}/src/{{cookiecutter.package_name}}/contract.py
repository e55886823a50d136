"""The data contract: one definition of the features and target for every consumer.

Training validates data against it, and the same names and types build the serving
API's request schema and the ONNX input signature. To use your own data, change this
module and `data.load_sample`.
"""

TASK = "{{ cookiecutter.task }}"
TARGET = "target"
{%- if cookiecutter.task == 'classification' %}
DATASET = "breast_cancer"
# Feature name -> Python type of its values (all numeric here).
FEATURES: dict[str, type] = {
    "mean_radius": float,
    "mean_texture": float,
    "mean_perimeter": float,
    "mean_area": float,
    "mean_smoothness": float,
    "mean_compactness": float,
    "mean_concavity": float,
    "mean_concave_points": float,
    "mean_symmetry": float,
    "mean_fractal_dimension": float,
    "radius_error": float,
    "texture_error": float,
    "perimeter_error": float,
    "area_error": float,
    "smoothness_error": float,
    "compactness_error": float,
    "concavity_error": float,
    "concave_points_error": float,
    "symmetry_error": float,
    "fractal_dimension_error": float,
    "worst_radius": float,
    "worst_texture": float,
    "worst_perimeter": float,
    "worst_area": float,
    "worst_smoothness": float,
    "worst_compactness": float,
    "worst_concavity": float,
    "worst_concave_points": float,
    "worst_symmetry": float,
    "worst_fractal_dimension": float,
}
# Class labels in target order: 0 = malignant, 1 = benign.
CLASSES: tuple[str, ...] = ("malignant", "benign")
{%- else %}
DATASET = "diabetes"
# Feature name -> Python type of its values (all numeric here).
FEATURES: dict[str, type] = {
    "age": float,
    "sex": float,
    "bmi": float,
    "bp": float,
    "s1": float,
    "s2": float,
    "s3": float,
    "s4": float,
    "s5": float,
    "s6": float,
}
# Regression: no classes.
CLASSES: tuple[str, ...] = ()
{%- endif %}

FEATURE_NAMES: tuple[str, ...] = tuple(FEATURES)
