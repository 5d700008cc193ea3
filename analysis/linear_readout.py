"""Linear read-out of a code: how much label information a linear decoder can extract.

The paper's read-out (Vafaii, Galor & Yates 2025, MNIST): a logistic regression
trained on the latent code of the training images, scored on the test images.
Here the features are standardised (zero mean, unit variance per feature on the
training set) before an L2-regularised logistic regression (C = 1); raw pixels
through the same pipeline are the reference a useful code should match or beat.

References
----------
Vafaii, H., Galor, D. & Yates, J. L. (2025). Brain-like variational inference.
arXiv:2410.19315 (linear read-out accuracy on the latent state).
Pedregosa, F. et al. (2011). Scikit-learn: machine learning in Python. JMLR 12:2825.
"""
from __future__ import annotations

import numpy as np


def readout_accuracy(train_features: np.ndarray, train_labels: np.ndarray,
                     test_features: np.ndarray, test_labels: np.ndarray) -> float:
    """Test accuracy of a logistic regression on standardised features.

    scikit-learn ``LogisticRegression`` (L2, C = 1, lbfgs, up to 5,000 iterations) after a
    ``StandardScaler`` fitted on the training features; deterministic.

    Parameters
    ----------
    train_features : ndarray, shape (N_train, D)
    train_labels : ndarray, shape (N_train,)
    test_features : ndarray, shape (N_test, D)
    test_labels : ndarray, shape (N_test,)

    Returns
    -------
    float
        Fraction of test items classified correctly.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    classifier = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(np.asarray(train_features, float), np.asarray(train_labels))
    return float(classifier.score(np.asarray(test_features, float), np.asarray(test_labels)))
