"""The Qt binding of the Krita that loaded us: PyQt6 in Krita 6 (Qt 6), PyQt5 in Krita 5.

Krita refuses the other binding outright (its `krita` package raises ModuleNotFoundError on
the wrong import), so the Qt 6 one is tried first and the Qt 5 one is the fallback. The rest
of the plug-in uses only what both accept: scoped enums (`Qt.AlignmentFlag.AlignLeft`, PyQt5
5.11+) and `exec()`; widgets moved between modules in Qt 6 are not used.
"""

try:
    from PyQt6 import QtCore, QtGui, QtWidgets

    QT_MAJOR = 6
except ImportError:
    from PyQt5 import QtCore, QtGui, QtWidgets

    QT_MAJOR = 5

Qt = QtCore.Qt
QTimer = QtCore.QTimer
QUrl = QtCore.QUrl
QDesktopServices = QtGui.QDesktopServices
QImage = QtGui.QImage
QPixmap = QtGui.QPixmap
QApplication = QtWidgets.QApplication
QCheckBox = QtWidgets.QCheckBox
QComboBox = QtWidgets.QComboBox
QDialog = QtWidgets.QDialog
QDialogButtonBox = QtWidgets.QDialogButtonBox
QFileDialog = QtWidgets.QFileDialog
QFormLayout = QtWidgets.QFormLayout
QHBoxLayout = QtWidgets.QHBoxLayout
QLabel = QtWidgets.QLabel
QLineEdit = QtWidgets.QLineEdit
QMessageBox = QtWidgets.QMessageBox
QProgressDialog = QtWidgets.QProgressDialog
QPushButton = QtWidgets.QPushButton
QSpinBox = QtWidgets.QSpinBox
QToolButton = QtWidgets.QToolButton
QVBoxLayout = QtWidgets.QVBoxLayout
QWidget = QtWidgets.QWidget
