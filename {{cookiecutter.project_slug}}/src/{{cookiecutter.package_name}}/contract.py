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
# A real row of the sample data (its first), the example request of the serving API.
# tests/test_data.py checks that it still is a row of the data.
EXAMPLE: dict[str, float] = {
    "mean_radius": 17.99,
    "mean_texture": 10.38,
    "mean_perimeter": 122.8,
    "mean_area": 1001.0,
    "mean_smoothness": 0.1184,
    "mean_compactness": 0.2776,
    "mean_concavity": 0.3001,
    "mean_concave_points": 0.1471,
    "mean_symmetry": 0.2419,
    "mean_fractal_dimension": 0.07871,
    "radius_error": 1.095,
    "texture_error": 0.9053,
    "perimeter_error": 8.589,
    "area_error": 153.4,
    "smoothness_error": 0.006399,
    "compactness_error": 0.04904,
    "concavity_error": 0.05373,
    "concave_points_error": 0.01587,
    "symmetry_error": 0.03003,
    "fractal_dimension_error": 0.006193,
    "worst_radius": 25.38,
    "worst_texture": 17.33,
    "worst_perimeter": 184.6,
    "worst_area": 2019.0,
    "worst_smoothness": 0.1622,
    "worst_compactness": 0.6656,
    "worst_concavity": 0.7119,
    "worst_concave_points": 0.2654,
    "worst_symmetry": 0.4601,
    "worst_fractal_dimension": 0.1189,
}
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
# A real row of the sample data (its first), the example request of the serving API.
# tests/test_data.py checks that it still is a row of the data.
EXAMPLE: dict[str, float] = {
    "age": 59.0,
    "sex": 2.0,
    "bmi": 32.1,
    "bp": 101.0,
    "s1": 157.0,
    "s2": 93.2,
    "s3": 38.0,
    "s4": 4.0,
    "s5": 4.8598,
    "s6": 87.0,
}
{%- endif %}

FEATURE_NAMES: tuple[str, ...] = tuple(FEATURES)
