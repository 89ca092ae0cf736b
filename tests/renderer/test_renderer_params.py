import pytest

from renderer import RenderError, validate_params


def test_defaults():
    params = validate_params({})
    assert (params.resolution, params.fps, params.dynamic_scale, params.inference_steps) == (512, 25, 1.0, 25)
    assert params.crop_face and params.face_index is None and params.warnings == []


def test_values_are_coerced_from_form_strings():
    params = validate_params({"resolution": "384", "dynamic_scale": "1.5", "crop_face": "false", "seed": "7"})
    assert (params.resolution, params.dynamic_scale, params.crop_face, params.seed) == (384, 1.5, False, 7)


@pytest.mark.parametrize(
    "raw, code, field",
    [
        ({"dynamic_scal": 1.0}, "unknown_parameter", "dynamic_scal"),
        ({"resolution": 2048}, "invalid_parameter", "resolution"),
        ({"resolution": 255}, "invalid_parameter", "resolution"),
        ({"resolution": 515}, "invalid_parameter", "resolution"),
        ({"resolution": 1000}, "invalid_parameter", "resolution"),  # even and in range, but not a size offered
        ({"dynamic_scale": 0.4}, "invalid_parameter", "dynamic_scale"),
        ({"motion_scale": "lots"}, "invalid_parameter", "motion_scale"),
        ({"expand_ratio": float("nan")}, "invalid_parameter", "expand_ratio"),
        ({"inference_steps": 51}, "invalid_parameter", "inference_steps"),
        ({"resolution": True}, "invalid_parameter", "resolution"),
    ],
)
def test_bad_values_are_refused_with_a_code_and_the_field(raw, code, field):
    with pytest.raises(RenderError) as refusal:
        validate_params(raw)
    assert (refusal.value.code, refusal.value.field) == (code, field)
    assert field in refusal.value.message


def test_few_inference_steps_are_allowed_but_flagged():
    assert "lower quality" in validate_params({"inference_steps": 12}).warnings[0]
