"""Composite datasets: every cause is recoverable, every source image used once, labels true."""

import numpy as np
import pytest

from jaxdis import data
from jaxdis.data import mnist as mnist_module

RANGES = [(0.0, 1.0), (-1.0, 1.0)]


@pytest.fixture(scope="module")
def digits():
    """1,000 real MNIST test digits from the shipped sample: (images in [0, 1], labels)."""
    images, labels = data.load_mnist("test", source="sample")
    return images[:1000], labels[:1000]


def assert_sources_used_once(composite, n_images):
    used = np.concatenate([composite.index_a, composite.index_b])
    assert len(np.unique(used)) == len(used) == 2 * len(composite)
    assert used.min() >= 0 and used.max() < n_images


def assert_recombines_exactly(composite):
    assert composite.x.dtype == composite.cause_a.dtype == composite.cause_b.dtype == np.float32
    assert composite.label_a.dtype == composite.label_b.dtype == np.int32
    np.testing.assert_array_equal(composite.recombine(), composite.x)
    if composite.combine == "sum":
        np.testing.assert_array_equal(composite.cause_a + composite.cause_b, composite.x)
    else:
        np.testing.assert_array_equal(np.maximum(composite.cause_a, composite.cause_b),
                                      composite.x)


# --------------------------------------------------------------------------- thesis section 8.2


@pytest.mark.parametrize("value_range", RANGES)
@pytest.mark.parametrize("kind", data.KINDS)
def test_composite_invariants(digits, kind, value_range):
    images, labels = digits
    composite = data.make_composite(kind, images, labels, n_pairs=300, seed=3,
                                    value_range=value_range)
    lo, hi = value_range
    assert len(composite) == 300 and composite.kind == kind and composite.seed == 3
    assert_recombines_exactly(composite)
    assert_sources_used_once(composite, len(images))
    np.testing.assert_array_equal(composite.label_a, labels[composite.index_a])
    np.testing.assert_array_equal(composite.label_b, labels[composite.index_b])
    assert lo <= composite.x.min() and composite.x.max() <= hi
    # x against the thesis's definition, in float64, one pair at a time.
    for i in range(0, 300, 37):
        a = images[composite.index_a[i]].astype(np.float64)
        b = images[composite.index_b[i]].astype(np.float64)
        natural = {"simple": np.concatenate([a, b], axis=1), "additive": (a + b) / 2,
                   "occlusive": np.maximum(a, b)}[kind]
        np.testing.assert_allclose(composite.x[i], lo + (hi - lo) * natural, rtol=0, atol=1e-6)


def test_simple_causes_hold_one_digit_each_and_zero_elsewhere(digits):
    images, labels = digits
    composite = data.make_composite("simple", images, labels, 50, seed=0, value_range=(-1, 1))
    assert composite.x.shape == (50, 28, 56)
    np.testing.assert_array_equal(composite.cause_a[:, :, 28:], 0.0)
    np.testing.assert_array_equal(composite.cause_b[:, :, :28], 0.0)
    np.testing.assert_allclose(composite.cause_a[:, :, :28], 2 * images[composite.index_a] - 1,
                               atol=1e-6)
    np.testing.assert_allclose(composite.cause_b[:, :, 28:], 2 * images[composite.index_b] - 1,
                               atol=1e-6)


def test_additive_causes_are_the_halved_digits(digits):
    images, labels = digits
    composite = data.make_composite("additive", images, labels, 50, seed=0)
    np.testing.assert_allclose(composite.cause_a, images[composite.index_a] / 2, atol=1e-7)
    np.testing.assert_allclose(composite.cause_b, images[composite.index_b] / 2, atol=1e-7)


@pytest.mark.parametrize("kind, values", [("simple", [0.0, 1.0]), ("additive", [0.0, 0.5, 1.0]),
                                          ("occlusive", [0.0, 1.0])])
def test_binarised_composites_combine_the_digits_thresholded_at_one_half(digits, kind, values):
    images, labels = digits
    composite = data.make_composite(kind, images, labels, 200, seed=2, binarize=True)
    grey = data.make_composite(kind, images, labels, 200, seed=2)
    np.testing.assert_array_equal(composite.index_b, grey.index_b)  # the same pairs
    assert len(np.setdiff1d(grey.x, values)) > 0  # the MNIST files are not binary
    np.testing.assert_array_equal(np.unique(composite.x), values)
    assert_recombines_exactly(composite)
    a = (images[composite.index_a] > 0.5).astype(np.float32)
    b = (images[composite.index_b] > 0.5).astype(np.float32)
    if kind == "simple":  # side by side; each cause the binary digit on its own half
        np.testing.assert_array_equal(composite.x, np.concatenate([a, b], axis=2))
        np.testing.assert_array_equal(composite.cause_a[:, :, :28], a)
        np.testing.assert_array_equal(composite.cause_a[:, :, 28:], 0.0)
        np.testing.assert_array_equal(composite.cause_b[:, :, 28:], b)
    elif kind == "additive":  # (a + b) / 2; each cause the halved binary digit
        np.testing.assert_array_equal(composite.x, (a + b) / 2)
        np.testing.assert_array_equal(composite.cause_a, a / 2)
        np.testing.assert_array_equal(composite.cause_b, b / 2)
    else:  # a logical OR; each cause the binary digit
        np.testing.assert_array_equal(composite.x, np.logical_or(a, b).astype(np.float32))
        np.testing.assert_array_equal(composite.cause_a, a)
        np.testing.assert_array_equal(composite.cause_b, b)


def test_binarize_is_refused_for_plain_mnist_in_the_ddn_config():
    from experiments import ddn

    assert ddn.DDNConfig(dataset="occlusive", binarize=True).binarize
    with pytest.raises(ValueError, match=r"binarize=true needs a composite dataset \(simple, "
                                         r"additive, occlusive\); got dataset 'mnist'"):
        ddn.DDNConfig(dataset="mnist", binarize=True)


def test_the_seed_decides_the_pairs(digits):
    images, labels = digits
    first = data.make_composite("additive", images, labels, 100, seed=5)
    again = data.make_composite("additive", images, labels, 100, seed=5)
    other = data.make_composite("additive", images, labels, 100, seed=6)
    np.testing.assert_array_equal(first.x, again.x)
    np.testing.assert_array_equal(first.index_a, again.index_a)
    assert not np.array_equal(first.index_a, other.index_a)


def test_all_images_can_be_paired_but_no_more(digits):
    images, labels = digits
    composite = data.make_composite("occlusive", images[:11], labels[:11], 5, seed=0)
    assert_sources_used_once(composite, 11)
    with pytest.raises(ValueError, match=r"n_pairs=6 needs more images than given: 11 images"):
        data.make_composite("occlusive", images[:11], labels[:11], 6, seed=0)


@pytest.mark.parametrize("change, message", [
    (lambda x, y: ("stacked", x, y), r"kind must be one of simple, additive, occlusive"),
    (lambda x, y: ("simple", (x * 255).astype(np.uint8), y), r"divide by 255"),
    (lambda x, y: ("simple", x * 2, y), r"images must lie in \[0, 1\]"),
    (lambda x, y: ("simple", x[..., 0], y), r"images must have shape \(M, H, W\)"),
    (lambda x, y: ("simple", x, y[:-1]), r"labels must have shape \(1000,\)"),
    (lambda x, y: ("simple", x, y.astype(np.float32)), r"labels must be integers"),
])
def test_bad_inputs_are_named(digits, change, message):
    kind, images, labels = change(*digits)
    with pytest.raises(ValueError, match=message):
        data.make_composite(kind, images, labels, 10, seed=0)


@pytest.mark.parametrize("n_pairs, value_range, message", [
    (0, (0, 1), r"n_pairs must be at least 1"),
    (2.5, (0, 1), r"n_pairs must be an int"),
    (10, (1, 0), r"value_range must be finite with lo < hi"),
    (10, (0,), r"value_range must be a pair"),
])
def test_bad_sizes_and_ranges_are_named(digits, n_pairs, value_range, message):
    with pytest.raises(ValueError, match=message):
        data.make_composite("additive", *digits, n_pairs, seed=0, value_range=value_range)


def test_composite_rejects_causes_of_another_shape():
    x = np.zeros((2, 3, 3), np.float32)
    labels = np.zeros(2, np.int32)
    with pytest.raises(ValueError, match=r"cause_b must have the shape of x"):
        data.Composite(x, x, x[:, :2], labels, labels, kind="additive", seed=0)


def test_composites_work_on_the_8x8_digits():
    images, labels = data.load_digits_8x8()
    composite = data.make_composite("simple", images, labels, len(images) // 2, seed=0)
    assert composite.x.shape == (898, 8, 16)
    assert_recombines_exactly(composite)
    assert_sources_used_once(composite, len(images))


# --------------------------------------------------------------------------- rotated digits


def rotate_90_counterclockwise_by_loops(image):
    """out[i, j] = image[j, W-1-i]: the definition, one pixel at a time."""
    height, width = image.shape
    out = np.empty((width, height), image.dtype)
    for i in range(width):
        for j in range(height):
            out[i, j] = image[j, width - 1 - i]
    return out


@pytest.mark.parametrize("combine", data.COMBINES)
def test_rotated_composite_invariants(digits, combine):
    images, labels = digits
    composite = data.make_rotated_composite(images, labels, n_pairs=80, seed=1, combine=combine)
    assert composite.kind == f"rotated-{combine}" and len(composite) == 80
    assert_recombines_exactly(composite)
    assert_sources_used_once(composite, len(images))
    assert set(composite.label_a.tolist()) <= {0, 1, 2}
    assert set(composite.label_b.tolist()) <= {3, 4, 5}
    np.testing.assert_array_equal(composite.label_a, labels[composite.index_a])
    np.testing.assert_array_equal(composite.label_b, labels[composite.index_b])
    scale = 0.5 if combine == "additive" else 1.0
    for i in range(0, 80, 13):
        upright = images[composite.index_a[i]]
        rotated = rotate_90_counterclockwise_by_loops(images[composite.index_b[i]])
        np.testing.assert_allclose(composite.cause_a[i], scale * upright, atol=1e-7)
        np.testing.assert_allclose(composite.cause_b[i], scale * rotated, atol=1e-7)
    top = {"sum": 2.0, "additive": 1.0, "occlusive": 1.0}[combine]
    assert 0.0 <= composite.x.min() and composite.x.max() <= top


def test_rotation_is_exactly_a_quarter_turn(digits):
    images, labels = digits
    composite = data.make_rotated_composite(images, labels, n_pairs=20, seed=0, combine="sum")
    sources = images[composite.index_b]
    # Four quarter turns give back the source; one is neither the source nor a half turn.
    np.testing.assert_array_equal(np.rot90(composite.cause_b, k=3, axes=(1, 2)), sources)
    assert not np.array_equal(composite.cause_b, sources)
    assert not np.array_equal(composite.cause_b, np.rot90(sources, k=2, axes=(1, 2)))


def test_rotated_composite_of_thesis_chapter_3_in_minus_one_to_one(digits):
    images, labels = digits
    composite = data.make_rotated_composite(images, labels, classes_a=(3,), classes_b=(7,),
                                            seed=0, combine="sum", value_range=(-1.0, 1.0))
    # n_pairs None: as many as the rarer class allows.
    assert len(composite) == min((labels == 3).sum(), (labels == 7).sum())
    assert composite.cause_a.min() == -1.0 and composite.cause_a.max() == 1.0
    assert composite.cause_b.min() == -1.0 and composite.cause_b.max() == 1.0
    assert_recombines_exactly(composite)


def test_rotated_composite_errors(digits):
    images, labels = digits
    with pytest.raises(ValueError,
                       match=r"classes_a and classes_b must be disjoint, both hold \[2\]"):
        data.make_rotated_composite(images, labels, classes_a=(1, 2), classes_b=(2, 3))
    with pytest.raises(ValueError, match=r"images must be square"):
        data.make_rotated_composite(images[:, :, :20], labels)
    with pytest.raises(ValueError, match=r"combine must be one of sum, additive, occlusive"):
        data.make_rotated_composite(images, labels, combine="max")
    with pytest.raises(ValueError, match=r"classes_b: classes \[11\] have no images"):
        data.make_rotated_composite(images, labels, classes_b=(11,))
    with pytest.raises(ValueError, match=r"n_pairs=5000 needs more images"):
        data.make_rotated_composite(images, labels, n_pairs=5000)


# --------------------------------------------------------------------------- digit plus gradient


def test_gradient_composite_is_a_digit_plus_a_planar_ramp_of_the_drawn_angle(digits):
    images, labels = digits
    composite = data.make_gradient_composite(images, labels, n_pairs=40, seed=2)
    assert composite.kind == "gradient-sum" and composite.index_b is None
    assert_recombines_exactly(composite)
    assert (composite.label_a == 5).all()
    np.testing.assert_array_equal(composite.cause_a, images[composite.index_a])
    assert len(np.unique(composite.index_a)) == 40
    angles = composite.factors["angle_b"]
    np.testing.assert_array_equal(composite.label_b,
                                  np.floor(angles.astype(np.float64) / (np.pi / 4)).astype(int))
    rows, cols = np.meshgrid(np.arange(28), np.arange(28), indexing="ij")
    design = np.stack([np.ones(784), cols.ravel(), -rows.ravel()], axis=1)
    for ramp, angle in zip(composite.cause_b, angles):
        assert ramp.min() == 0.0 and ramp.max() == 1.0
        coefficients, *_ = np.linalg.lstsq(design, ramp.ravel().astype(np.float64), rcond=None)
        np.testing.assert_allclose(design @ coefficients, ramp.ravel(), atol=1e-6)  # a plane
        slope = coefficients[1:]  # rises along (cos angle, sin angle), with y pointing up
        np.testing.assert_allclose(slope / np.linalg.norm(slope), [np.cos(angle), np.sin(angle)],
                                   atol=1e-5)


# --------------------------------------------------------------------------- toy data (Fig. 3.3)


@pytest.mark.parametrize("kind", data.TOY_KINDS)
def test_toy_datasets_recombine_and_are_reproducible(kind):
    composite = data.make_toy(kind, 64, seed=4)
    assert composite.kind == f"toy-{kind}" and composite.x.shape == (64, 28, 28)
    assert_recombines_exactly(composite)
    assert 0.0 <= composite.cause_a.min() and composite.cause_a.max() <= 1.0
    assert 0.0 <= composite.cause_b.min() and composite.cause_b.max() <= 1.0
    again = data.make_toy(kind, 64, seed=4)
    np.testing.assert_array_equal(composite.x, again.x)
    assert not np.array_equal(composite.x, data.make_toy(kind, 64, seed=5).x)
    shifted = data.make_toy(kind, 64, seed=4, value_range=(-1.0, 1.0), combine="additive")
    assert -1.0 <= shifted.x.min() and shifted.x.max() <= 1.0
    assert_recombines_exactly(shifted)


def test_toy_shapes_circle_above_square_with_their_labels():
    composite = data.make_toy("shapes", 200, seed=0)
    for name in ("cause_a", "cause_b"):
        values = np.unique(getattr(composite, name))
        assert values.tolist() == [0.0, 1.0]
    assert composite.cause_a[:, 14:].max() == 0.0   # circle: top half only
    assert composite.cause_b[:, :14].max() == 0.0   # square: bottom half only
    f = composite.factors
    np.testing.assert_array_equal(composite.label_a, 5 * f["location_a"] + f["size_a"])
    np.testing.assert_array_equal(composite.label_b, 5 * f["location_b"] + f["size_b"])
    # A larger size index draws more pixels, at a fixed location.
    area = composite.cause_b.sum(axis=(1, 2))
    for location in range(5):
        at = f["location_b"] == location
        order = np.argsort(f["size_b"][at], kind="stable")
        assert np.all(np.diff(area[at][order]) >= 0)


def test_toy_bars_have_an_odd_number_of_each_cause_as_their_masks_say():
    composite = data.make_toy("bars", 300, seed=0)
    for mask, places in ((composite.label_a, 6), (composite.label_b, 5)):
        popcount = np.array([bin(m).count("1") for m in mask])
        assert (popcount % 2 == 1).all() and mask.max() < 2 ** places
    # Count the drawn bars: runs of lit columns in the first row of cause a.
    for image, mask in zip(composite.cause_a[:50], composite.label_a[:50]):
        lit = np.concatenate([[0], image[0], [0]])
        assert (np.diff(lit) == 1).sum() == bin(mask).count("1")
    # Count the drawn blocks: connected pieces of cause b (blocks never touch).
    from scipy.ndimage import label as connected_components

    for image, mask in zip(composite.cause_b[:50], composite.label_b[:50]):
        assert connected_components(image > 0)[1] == bin(mask).count("1")


def test_toy_lines_and_waves_label_their_generating_variable():
    lines = data.make_toy("lines", 100, seed=0)
    for key, labels in (("t_a", lines.label_a), ("t_b", lines.label_b)):
        np.testing.assert_array_equal(labels, np.floor(lines.factors[key] * 10).astype(int))
    assert (lines.cause_a.sum(axis=(1, 2)) > 0).all()  # every line crosses the image
    waves = data.make_toy("waves", 100, seed=0)
    np.testing.assert_array_equal(waves.label_a, np.floor(waves.factors["t_a"] * 10).astype(int))
    np.testing.assert_array_equal(
        waves.label_b, np.floor(waves.factors["angle_b"].astype(np.float64) / (np.pi / 4)))


def test_toy_errors():
    with pytest.raises(ValueError, match=r"kind must be one of shapes, waves, lines, bars"):
        data.make_toy("circles", 10, seed=0)
    with pytest.raises(ValueError, match=r"size must be an int of at least 16"):
        data.make_toy("bars", 10, seed=0, size=8)
    for n in (0, 2.5, True):
        with pytest.raises(ValueError, match=r"n must be an int of at least 1"):
            data.make_toy("bars", n, seed=0)


# --------------------------------------------------------------------------- combine_causes


@pytest.mark.parametrize("value_range", RANGES)
def test_combine_causes_follows_its_table_and_recombines_exactly(value_range):
    a, b = np.random.default_rng(0).random((2, 5, 4, 6)).astype(np.float32)
    lo, hi = value_range
    halved = {"sum": 1, "additive": 2, "occlusive": 1}
    for combine, op in (("sum", "sum"), ("additive", "sum"), ("occlusive", "max")):
        x, cause_a, cause_b, got_op = data.combine_causes(a, b, combine, value_range)
        assert got_op == op
        assert x.dtype == cause_a.dtype == cause_b.dtype == np.float32
        np.testing.assert_allclose(cause_a, (lo + (hi - lo) * a) / halved[combine], atol=1e-6)
        np.testing.assert_allclose(cause_b, (lo + (hi - lo) * b) / halved[combine], atol=1e-6)
        composite = data.Composite(x, cause_a, cause_b, np.zeros(5, np.int32),
                                   np.zeros(5, np.int32), kind=combine, seed=0, combine=op)
        assert_recombines_exactly(composite)


@pytest.mark.parametrize("combine, b_shape, value_range, message", [
    ("stacked", (3, 4, 4), (0, 1), r"combine must be one of sum, additive, occlusive"),
    ("sum", (3, 4, 5), (0, 1), r"b01 must have the shape of a01 \(3, 4, 4\)"),
    ("sum", (3, 4, 4), (1, 0), r"value_range must be finite with lo < hi"),
])
def test_combine_causes_names_a_bad_argument(combine, b_shape, value_range, message):
    with pytest.raises(ValueError, match=message):
        data.combine_causes(np.zeros((3, 4, 4)), np.zeros(b_shape), combine, value_range)


# --------------------------------------------------------------------------- load_composite


def test_load_composite_pairs_the_whole_split(monkeypatch):
    monkeypatch.delenv("JAXDIS_DATA_DIR", raising=False)
    monkeypatch.setattr(mnist_module, "_sample_warned", True)  # the warning has its own test
    monkeypatch.setattr(mnist_module, "_tfds_candidate", lambda dataset: mnist_module._Candidate(
        "tfds", "not installed", False))
    composite = data.load_composite("occlusive", split="validation", seed=1,
                                    value_range=(-1.0, 1.0))
    images, labels = data.load_mnist("validation")
    assert len(composite) == len(images) // 2 and composite.seed == 1
    assert_sources_used_once(composite, len(images))
    np.testing.assert_array_equal(composite.label_b, labels[composite.index_b])
    np.testing.assert_allclose(composite.cause_a, 2 * images[composite.index_a] - 1, atol=1e-6)
    assert -1.0 <= composite.x.min() and composite.x.max() <= 1.0


def test_load_composite_passes_binarize_on(monkeypatch):
    monkeypatch.delenv("JAXDIS_DATA_DIR", raising=False)
    monkeypatch.setattr(mnist_module, "_sample_warned", True)
    monkeypatch.setattr(mnist_module, "_tfds_candidate", lambda dataset: mnist_module._Candidate(
        "tfds", "not installed", False))
    composite = data.load_composite("additive", split="validation", n_pairs=100, seed=1,
                                    binarize=True)
    images, _ = data.load_mnist("validation")
    np.testing.assert_array_equal(composite.cause_a,
                                  (images[composite.index_a] > 0.5).astype(np.float32) / 2)
    np.testing.assert_array_equal(np.unique(composite.x), [0.0, 0.5, 1.0])


def test_a_training_set_is_the_composite_or_the_digits_with_a_sorted_probe(monkeypatch):
    monkeypatch.delenv("JAXDIS_DATA_DIR", raising=False)
    monkeypatch.setattr(mnist_module, "_sample_warned", True)
    monkeypatch.setattr(mnist_module, "_tfds_candidate", lambda dataset: mnist_module._Candidate(
        "tfds", "not installed", False))
    images, composite, probe = data.load_training_set("additive", 300, 50, data_seed=2)
    assert images.shape == (300, 28, 28) and images.dtype == np.float32
    np.testing.assert_array_equal(images, composite.x)
    assert composite.seed == 2 and composite.kind == "additive"
    assert len(probe) == 50 and np.all(np.diff(probe) > 0) and probe.max() < 300
    np.testing.assert_array_equal(data.load_training_set("additive", 300, 50, 2)[2], probe)
    assert not np.array_equal(data.load_training_set("additive", 300, 50, 3)[2], probe)

    digits, none, _ = data.load_training_set("mnist", 300, 50, data_seed=0)
    assert none is None
    np.testing.assert_array_equal(digits, data.load_mnist("train")[0][:300])
    # The shipped sample's 8,000 training images: 4,000 pairs, or 8,000 digits.
    assert (data.training_set_size("simple"), data.training_set_size("mnist")) == (4000, 8000)
    assert len(data.load_training_set("simple", 0, 50, 0)[0]) == 4000

    with pytest.raises(ValueError, match=r"probe_size: expected between 10 and the 300 examples"):
        data.load_training_set("additive", 300, 5, 0)
    with pytest.raises(ValueError, match=r"n_train=9000: only 8000 examples are available"):
        data.load_training_set("mnist", 9000, 50, 0)
    with pytest.raises(ValueError, match=r"binarize=true needs a composite dataset"):
        data.load_training_set("mnist", 300, 50, 0, binarize=True)


def test_load_composite_errors_before_loading():
    with pytest.raises(ValueError, match=r"kind must be one of simple, additive, occlusive"):
        data.load_composite("rotated")
    with pytest.raises(ValueError, match=r"source must be one of mnist, fashion_mnist"):
        data.load_composite("additive", source="cifar10")



@pytest.mark.skipif(not mnist_module.DEBIAN_FASHION_MNIST_DIR.is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_load_composite_from_fashion_mnist(monkeypatch, tmp_path):
    monkeypatch.setenv("JAXDIS_DATA_DIR", str(tmp_path))  # empty: Debian's folder serves
    composite = data.load_composite("simple", split="test", n_pairs=100, seed=0,
                                    source="fashion-mnist")
    images, labels = data.load_fashion_mnist("test")
    assert composite.x.shape == (100, 28, 56)
    np.testing.assert_array_equal(composite.cause_a[:, :, :28], images[composite.index_a])
    np.testing.assert_array_equal(composite.label_a, labels[composite.index_a])
