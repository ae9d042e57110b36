"""The social emergency dispatch and EOC system (سامانه اورژانس اجتماعی و مرکز عملیات اضطراری)."""

__version__ = "0.1.0"
