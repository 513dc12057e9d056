import numpy as np
import pytest

from neurona.data import load_csv, load_npz


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_numeric_classes_and_regression(tmp_path):
    path = write(tmp_path, "a,b,label\n1,2.5,0\n3,4,1\n\n5,6e-1,2\n")
    X, y = load_csv(path, target="label")
    assert X.dtype == np.float32 and X.shape == (3, 2) and y.dtype == np.int64
    np.testing.assert_allclose(X, [[1, 2.5], [3, 4], [5, 0.6]])
    np.testing.assert_array_equal(y, [0, 1, 2])
    X, y = load_csv(write(tmp_path, "price,x\n1.5,1\n2,2\n"), target=0)
    assert y.dtype == np.float32 and X.shape == (2, 1)


def test_csv_text_target_becomes_class_codes(tmp_path):
    path = write(tmp_path, "x,species\n1,setosa\n2,virginica\n3,setosa\n")
    X, y, classes = load_csv(path, target="species", return_classes=True)
    assert classes == ["setosa", "virginica"]
    np.testing.assert_array_equal(y, [0, 1, 0])


def test_csv_without_header(tmp_path):
    X, y = load_csv(write(tmp_path, "1,2,0\n3,4,1\n"), target=-1, header=False)
    assert X.shape == (2, 2) and y.tolist() == [0, 1]
    with pytest.raises(ValueError, match="column index"):
        load_csv(write(tmp_path, "1,2,0\n"), target="label", header=False)


def test_csv_missing_target_lists_columns(tmp_path):
    with pytest.raises(ValueError, match=r"no column 'label'; available columns: a, b, y") as err:
        load_csv(write(tmp_path, "a,b,y\n1,2,3\n"), target="label")
    assert "data.csv" in str(err.value)


def test_csv_non_numeric_cell_names_file_row_column(tmp_path):
    with pytest.raises(ValueError, match=r"data.csv, row 3, column 'b': cannot read 'abc'"):
        load_csv(write(tmp_path, "a,b,y\n1,2,0\n3,abc,1\n"), target="y")


def test_csv_missing_values_are_located(tmp_path):
    with pytest.raises(ValueError, match=r"2 missing values .* row 2 column 'a', row 4 column 'b'"):
        load_csv(write(tmp_path, "a,b,y\n,2,0\n3,4,1\n5,NaN,0\n"), target="y")
    with pytest.raises(ValueError, match=r"target column 'y' has 1 missing values at row 3 column 'y'"):
        load_csv(write(tmp_path, "a,y\n1,0\n2,\n"), target="y")


def test_csv_ragged_row_and_mixed_target(tmp_path):
    with pytest.raises(ValueError, match=r"row 3: 2 fields, expected 3"):
        load_csv(write(tmp_path, "a,b,y\n1,2,0\n3,4\n"), target="y")
    with pytest.raises(ValueError, match=r"row 3, column 'y': 'oops' is not a number"):
        load_csv(write(tmp_path, "a,y\n1,0\n2,oops\n3,1\n"), target="y")


def test_csv_missing_file_and_empty(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        load_csv(tmp_path / "nope.csv", target="y")
    with pytest.raises(ValueError, match="no data rows"):
        load_csv(write(tmp_path, "a,y\n"), target="y")


def test_npz_roundtrip_and_dtypes(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, images=np.ones((4, 3), np.float64), labels=np.arange(4, dtype=np.int32))
    X, y = load_npz(path, x="images", y="labels")
    assert X.dtype == np.float32 and y.dtype == np.int64 and X.shape == (4, 3)
    X, y = load_npz(path, x="images", y=None)
    assert y is None


def test_npz_errors(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.ones((3, 2)), y=np.arange(4))
    with pytest.raises(KeyError, match="available arrays: x, y"):
        load_npz(path, x="inputs")
    with pytest.raises(ValueError, match="3 samples .* 4"):
        load_npz(path)
    bad = np.ones((3, 2))
    bad[1, 0] = np.nan
    np.savez(path, x=bad, y=np.arange(3))
    with pytest.raises(ValueError, match=r"1 NaN values, at index \(1, 0\)"):
        load_npz(path)
    np.savez(path, x=np.array([{"a": 1}], dtype=object), y=np.arange(1))
    with pytest.raises(ValueError, match="d.npz"):
        load_npz(path)
