"""The consoles' words in Japanese (the default) and English.

The language is the ``mdg_lang`` cookie, set by ``?lang=en`` / ``?lang=ja`` on any page.
Templates call ``t("key")``; the scripts get the words they need as JSON in the page.
"""

from __future__ import annotations

from aiohttp import web

LANG_COOKIE = "mdg_lang"
LANGUAGES = ("ja", "en")

WORDS: dict[str, tuple[str, str]] = {
    "app": ("窓口 コンソール", "Madoguchi console"),
    "login_title": ("サインイン", "Sign in"),
    "login": ("ログインID", "Login"),
    "password": ("パスワード", "Password"),
    "sign_in": ("サインイン", "Sign in"),
    "sign_out": ("サインアウト", "Sign out"),
    "change_password": ("パスワード変更", "Change password"),
    "current_password": ("現在のパスワード", "Current password"),
    "new_password": ("新しいパスワード（12文字以上）", "New password (12 characters or more)"),
    "new_password_again": ("新しいパスワード（確認）", "New password (again)"),
    "password_changed": ("パスワードを変更しました。", "Your password was changed."),
    "passwords_differ": ("確認用のパスワードが一致しません。", "The two new passwords differ."),
    "bad_credentials": ("ログインIDまたはパスワードが違います。", "Wrong login or password."),
    "locked": (("パスワードを続けて間違えたため、アカウントをロックしました。{minutes}分後に"
                "再度お試しいただくか、管理者に連絡してください。"),
               ("This account is locked after repeated wrong passwords; try again in "
                "{minutes} min or ask an admin.")),
    "source_locked": (("この端末からのサインインの失敗が続いたため、{minutes}分間サインインで"
                       "きません。"),
                      ("Too many failed sign-ins from this address; signing in from it is "
                       "refused for {minutes} min.")),
    "database_away": (("データベースに接続できないため、いまはサインインできません。通話は"
                       "続いています。しばらくしてから再度お試しください。"),
                      ("Signing in is not possible just now: the database cannot be "
                       "reached. Calls go on; please try again in a moment.")),
    "session_expired": ("セッションの有効期限が切れました。再度サインインしてください。",
                        "Your session has expired; please sign in again."),
    "forbidden": ("このページを表示する権限がありません。", "You may not see this page."),
    "agent_console": ("オペレーター画面", "Agent console"),
    "supervisor_console": ("スーパーバイザー画面", "Supervisor console"),
    "viewer_console": ("エスカレーション・レポート", "Escalations and reports"),
    "state": ("状態", "State"),
    "time_in_state": ("経過時間", "Time in state"),
    "st_logged_out": ("ログアウト", "Logged out"),
    "st_ready": ("受付可", "Ready"),
    "st_ringing": ("着信中", "Ringing"),
    "st_on_call": ("通話中", "On a call"),
    "st_wrapup": ("後処理", "Wrap-up"),
    "st_away": ("離席", "Away"),
    "st_missed": ("不在（応答なし）", "Missed"),
    "log_in_acd": ("受付開始", "Log in"),
    "go_ready": ("受付可にする", "Ready"),
    "go_away": ("離席", "Away"),
    "log_out_acd": ("受付終了", "Log out"),
    "reason": ("理由", "Reason"),
    "rs_break": ("休憩", "Break"),
    "rs_training": ("研修", "Training"),
    "rs_meeting": ("会議", "Meeting"),
    "rs_admin": ("事務", "Admin work"),
    "rs_missed": ("応答なし", "Missed"),
    "rs_wrapup": ("後処理", "Wrap-up"),
    "screen_pop": ("着信情報", "Incoming call"),
    "no_call": ("着信はありません。", "No call."),
    "caller": ("発信者番号", "Caller"),
    "line": ("着信回線", "Line"),
    "menu_path": ("メニュー経路", "Menu path"),
    "language": ("言語", "Language"),
    "waited": ("待ち時間", "Waited"),
    "previous_contacts": ("過去の問い合わせ", "Previous contacts"),
    "no_previous": ("過去の問い合わせはありません。", "No previous contacts."),
    "history_unavailable": (
        "過去の問い合わせは今は表示できません（データベースに接続できません）。",
        "Previous contacts cannot be shown now (the database is away)."),
    "date": ("日時", "Date"),
    "outcome": ("対応結果", "Outcome"),
    "category": ("カテゴリ", "Category"),
    "note": ("メモ", "Note"),
    "disposition": ("対応記録", "Disposition"),
    "complaint": ("苦情", "Complaint"),
    "faq_prescribed": ("FAQどおりの対応", "Handled as the FAQ prescribes"),
    "callback": ("折り返し依頼", "Callback request"),
    "callback_name": ("お名前", "Name"),
    "callback_number": ("連絡先（開庁時間内）", "Number (reachable in opening hours)"),
    "question": ("回答すべき内容", "What to answer"),
    "department": ("担当課", "Department"),
    "send_disposition": ("対応記録を送信", "Send disposition"),
    "extend_wrapup": ("後処理を延長", "Extend wrap-up"),
    "call_controls": ("通話操作", "Call controls"),
    "transfer": ("転送", "Transfer"),
    "target": ("転送先（番号または課）", "Target (number or department)"),
    "blind": ("ブラインド", "Blind"),
    "attended": ("アテンド", "Attended"),
    "conference_add": ("三者通話に追加", "Add to call"),
    "conference_drop": ("三者通話を解除", "Drop third party"),
    "hold": ("保留", "Hold"),
    "unhold": ("保留解除", "Resume"),
    "recording_start": ("録音開始", "Start recording"),
    "recording_stop": ("録音停止", "Stop recording"),
    "done": ("完了しました", "Done"),
    "error": ("エラー", "Error"),
    "wallboard": ("ウォールボード", "Wallboard"),
    "queue": ("キュー", "Queue"),
    "waiting": ("待ち呼", "Waiting"),
    "longest_wait": ("最長待ち", "Longest wait"),
    "offered": ("入電", "Offered"),
    "answered": ("応答", "Answered"),
    "abandoned": ("放棄", "Abandoned"),
    "overflow": ("あふれ", "Overflow"),
    "answer_rate": ("応答率", "Answer rate"),
    "quick_answer_rate": ("即応率", "Quick-answer rate"),
    "today": ("本日", "today"),
    "agents": ("オペレーター", "Agents"),
    "agent": ("オペレーター", "Agent"),
    "calls_today": ("本日の応答", "Calls today"),
    "service_level_now": ("サービスレベル（現在の30分）", "Service level (this half-hour)"),
    "occupancy_today": ("本日の稼働率", "Occupancy today"),
    "actions": ("操作", "Actions"),
    "force_away": ("離席にする", "Set away"),
    "force_logout": ("受付終了にする", "Log out"),
    "listen": ("モニター", "Listen"),
    "whisper": ("ウィスパー", "Whisper"),
    "barge": ("割り込み", "Barge"),
    "no_extension": ("内線番号が設定されていません（acd users add --extension）",
                     "You have no extension (acd users add --extension)"),
    "voicemails": ("録音メッセージ", "Voicemail"),
    "escalations": ("エスカレーション（折り返し）一覧", "Escalations (callbacks)"),
    "received": ("受付日時", "Received"),
    "seconds": ("秒数", "Seconds"),
    "handled": ("対応済み", "Handled"),
    "mark_handled": ("対応済みにする", "Mark handled"),
    "assigned_to": ("担当者", "Assigned to"),
    "assign": ("割り当て", "Assign"),
    "export_csv": ("CSV出力", "Export CSV"),
    "none": ("なし", "none"),
    "reports": ("レポート", "Reports"),
    "daily": ("日報", "Daily"),
    "weekly": ("週報", "Weekly"),
    "monthly": ("月報", "Monthly"),
    "show_report": ("表示", "Show"),
    "report_files": ("帳票", "Report files"),
    "report_kind": ("種別", "Kind"),
    "report_period": ("対象期間", "Period"),
    "report_format": ("形式", "Format"),
    "report_size": ("サイズ", "Size"),
    "report_written_at": ("作成日時", "Written at"),
    "download": ("ダウンロード", "Download"),
    "no_report_files": ("作成済みの帳票はまだありません。", "No report has been written yet."),
    "report_files_newest": ("新しい順に {shown} 件を表示（全 {total} 件）",
                            "The newest {shown} of {total}"),
    "connected": ("接続中", "Live"),
    "disconnected": ("再接続中…", "Reconnecting…"),
    "yes": ("あり", "yes"),
    "out_done": ("完了", "Completed"),
    "out_handed": ("取次", "Handed over"),
    "out_transferred": ("転送", "Transferred"),
    "out_escalated": ("エスカレーション", "Escalated"),
    "out_other": ("その他", "Other"),
    "lang_switch": ("English", "日本語"),
    "staff_rating": ("職員満足度（今月の評価）", "Staff satisfaction (this month)"),
    "staff_rating_help": ("コールセンターの今月の対応を0〜100点で評価してください。",
                          "Rate the centre's work this month from 0 to 100."),
    "staff_score": ("評価（0〜100点）", "Score (0-100)"),
    "staff_comment": ("コメント", "Comment"),
    "staff_send": ("評価を送信", "Send the rating"),
    "staff_summary": ("今月の評価: 平均 {mean} 点（{n} 件）",
                      "This month: mean {mean} ({n} ratings)"),
    "emergency": ("緊急切替", "Emergency announcement"),
    "emergency_line": ("対象回線", "Line"),
    "emergency_all": ("全回線", "Every line"),
    "emergency_text": ("案内文（音声合成）", "Announcement (synthesized)"),
    "emergency_mode": ("案内の後", "After the announcement"),
    "mode_continue": ("通常の受付へ", "The normal flow"),
    "mode_hangup": ("切断", "Hang up"),
    "mode_voicemail": ("録音メッセージ", "Take a message"),
    "emergency_on": ("緊急案内を開始", "Switch on"),
    "emergency_off": ("解除", "Switch off"),
    "emergency_none": ("緊急案内は出ていません。", "No emergency announcement is on."),
    "switched_by": ("切替者", "Switched by"),
    "since_time": ("開始", "Since"),
}

#: The words the scripts use (sent in the page as JSON).
SCRIPT_WORDS = [k for k in WORDS if k.startswith(("st_", "rs_", "out_"))] + [
    "no_call", "no_previous", "history_unavailable", "done", "error", "connected",
    "disconnected", "none", "yes",
    "no_extension", "hold", "unhold", "mark_handled", "assign", "handled", "listen",
    "whisper", "barge", "force_away", "force_logout", "session_expired",
    "staff_summary",
    "emergency_all", "emergency_off", "emergency_none", "mode_continue", "mode_hangup",
    "mode_voicemail",
]


def language(request: web.Request) -> str:
    asked = request.query.get("lang")
    if asked in LANGUAGES:
        return asked
    cookie = request.cookies.get(LANG_COOKIE)
    return cookie if cookie in LANGUAGES else "ja"


def translator(lang: str):
    index = LANGUAGES.index(lang)

    def t(key: str, **values) -> str:
        text = WORDS[key][index] if key in WORDS else key
        return text.format(**values) if values else text
    return t


def script_words(lang: str) -> dict[str, str]:
    t = translator(lang)
    return {k: t(k) for k in SCRIPT_WORDS}


def remember_language(request: web.Request, response: web.StreamResponse) -> None:
    """``?lang=`` on a page is remembered in a cookie."""
    asked = request.query.get("lang")
    if asked in LANGUAGES:
        response.set_cookie(LANG_COOKIE, asked, max_age=365 * 86400, samesite="Strict",
                            httponly=True, path="/")
