"""scikit-learn's own estimator checks on CustomerSegmenter.

Every check applies and passes. Two design choices make that so, documented here:
- array input is validated with scikit-learn's ``validate_data`` (2-D, numeric,
  dense, same width as at fit); DataFrames are validated by the spec instead;
- NaN is allowed (tag ``allow_nan``): empty cells are filled by each column's
  missing-value policy, which is the point of the spec. Infinite values are
  rejected as not numeric.
``check_array_api_input`` is skipped by scikit-learn itself unless SCIPY_ARRAY_API
is set; custseg works on numpy arrays and pandas frames only.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from custseg import CustomerSegmenter


@parametrize_with_checks([CustomerSegmenter(k_range=(2, 3), n_init=2, stability_runs=1)])
def test_sklearn_compatible(estimator, check):
    check(estimator)
